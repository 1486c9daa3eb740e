package ui

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// The History view: the flight recorder's newest lifetimes, judged as live
// sockets are, so a connection to IRC that lasted 50 ms stands out like
// a live one.

// byWhen puts the newest first, as an admin reads a log of what happened.
func byWhen(a, b *sortKeys) int { return cmp.Or(cmp.Compare(b.when, a.when), byLocal(a, b)) }

var historyColumns = []column{
	{title: "", min: 1, ideal: 1, priority: 100},
	{title: "FIRST SEEN", min: 12, ideal: 12, priority: 94, compare: byWhen},
	{title: "N", min: 4, ideal: 5, priority: 78, compare: byCount},
	{title: "LASTED", min: 6, ideal: 8, priority: 88},
	{title: "PROTO", min: 5, ideal: 5, priority: 40, compare: byProto},
	{title: "LOCAL", min: 15, ideal: 22, priority: 93, compare: byLocal, shorten: shortenAddr},
	{title: "REMOTE", min: 15, ideal: 22, priority: 90, compare: byRemote, shorten: shortenAddr},
	{title: "DIR", min: 6, ideal: 6, priority: 75},
	{title: "PID", min: 5, ideal: 7, priority: 70, compare: byPID},
	{title: "PROCESS", min: 7, ideal: 14, priority: 85, compare: byProcess},
	{title: "WHERE", min: 5, ideal: 12, priority: 25, compare: byWhere, from: 130},
	{title: "VERDICT", min: 15, ideal: 17, priority: 96, compare: bySeverity},
}

// historyRows is a row per lifetime of the window, or per group of them
// (g; fold folds a source's attempts), and a row per gap; groups says
// which lifetimes each group row stands for.
func historyRows(r *app.Recent, g historyGrouping, fold bool) (rows []*row, groups map[rowKey]*histGroup) {
	if r == nil {
		return nil, nil
	}
	rows, groups = historyGroupRows(r, g, fold, func(i int) *row { return lifetimeRow(r, i) })
	return append(rows, gapRows(r)...), groups
}

// lifetimeRow is the row of lifetime i of r.
func lifetimeRow(r *app.Recent, i int) *row {
	l, v := &r.Lifetimes[i], r.Judged[i].Verdict
	lasted := "open"
	if !l.Open {
		lasted = shortDuration(l.LastSeen.Sub(l.FirstSeen))
	}
	remote, dir := "*:*", "listen"
	if l.Kind == history.Connection {
		remote, dir = addrString(l.Remote), shortDirections[l.Direction]
	}
	proto := l.Proto.String()
	if !l.Local.Addr().Unmap().Is4() {
		proto += "6"
	}
	pid, name := "-", safetext.Visible(l.Owner.Process)
	if l.Owner.PID != 0 {
		pid = strconv.Itoa(l.Owner.PID)
	}
	if name == "" {
		name = "-"
	}
	row := &row{
		key: rowKey{id: sockets.ID{Proto: l.Proto, Local: l.Local, Remote: l.Remote, NetNS: l.Owner.NetNS},
			pid: l.Owner.PID, start: uint64(l.FirstSeen.UnixNano())},
		cells: []string{"", l.FirstSeen.Local().Format("15:04:05.000"), "1", lasted, proto, addrString(l.Local), remote, dash(dir), pid, name, dash(safetext.Visible(l.Owner.NetNSName)), v.ShortLabel()},
		class: v.Class(),
		sortKeys: sortKeys{proto: l.Proto, local: l.Local, remote: l.Remote, pid: l.Owner.PID, process: name,
			severity: v.Severity(), when: l.FirstSeen.UnixNano(), count: 1, where: strings.ToLower(l.Owner.NetNSName)},
		sock: i,
	}
	row.sig = strings.Join(row.cells, "\x00")
	row.search = strings.ToLower(strings.Join(row.cells[1:], " ") + " " + l.Kind.String() + " " + safetext.Visible(l.Owner.Exe))
	return row
}

// gapRows are the times the record was blind, a row each: an empty
// stretch never reads as a quiet one.
func gapRows(r *app.Recent) []*row {
	var rows []*row
	for _, g := range r.Gaps { // the record was blind then: a row, so an empty stretch never reads as a quiet one
		why := "stopped"
		if g.Unclean {
			why = "killed"
		}
		lasted := shortDuration(g.Duration())
		if g.Ongoing {
			lasted = "ongoing"
		}
		row := &row{
			key:      rowKey{start: uint64(g.From.UnixNano()), pid: -1},
			cells:    []string{"", g.From.Local().Format("15:04:05.000"), "-", lasted, "-", "not recording", "recorder " + why, "-", "-", "-", "-", "GAP"},
			class:    verdict.ClassUnexpected,
			sortKeys: sortKeys{when: g.From.UnixNano(), severity: 100},
		}
		row.sig = strings.Join(row.cells, "\x00")
		row.search = "gap not recording " + why
		rows = append(rows, row)
	}
	return rows
}

// shortDirections fit the DIR column.
var shortDirections = map[history.Direction]string{history.Inbound: "in", history.Outbound: "out", history.Local: "local"}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortDuration is a lifetime's length in at most 8 cells: 50ms, 1.3s, 4m10s.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return d.Truncate(time.Second).String()
	}
	return d.Truncate(time.Minute).String()
}

// historyEmpty says why the History view has no rows.
func historyEmpty(r *app.Recent) string {
	switch {
	case r == nil:
		return "the flight recorder's record is not read here"
	case r.Missing:
		return "no flight recorder here: start portwarden record (or portwarden-record.service) to keep what listened and who connected"
	case r.Err != nil:
		return "the flight recorder's record cannot be read: " + safetext.Visible(r.Err.Error())
	}
	return "nothing recorded in this window: [ looks earlier, + widens it"
}

// describeLifetime explains a row of the History view.
func (m *Model) describeLifetime(d *detailWriter, r *row) {
	rec := m.frame.Recent
	if rec != nil && r.key.pid == -1 { // a gap's row
		for _, g := range rec.Gaps {
			if uint64(g.From.UnixNano()) == r.key.start {
				d.title("Not recording · " + shortDuration(g.Duration()))
				d.field("When", g.String())
				d.field("Means", "no flight recorder ran then: what listened and who connected in this stretch is not in the record. A killed recorder's gap starts at its last commit.")
				return
			}
		}
	}
	if rec == nil || r.sock < 0 || r.sock >= len(rec.Lifetimes) {
		d.plain("This lifetime is no longer among the record's newest.")
		return
	}
	l, v := &rec.Lifetimes[r.sock], rec.Judged[r.sock].Verdict
	title := l.Kind.String() + " " + l.Proto.String() + " " + addrString(l.Local)
	if l.Kind == history.Connection {
		title += " ↔ " + addrString(l.Remote)
	}
	if v.Service != "" {
		title += " · " + v.Service
	}
	d.title(title + " · " + v.Label() + " · risk " + v.Risk.String())
	when := "first seen " + l.FirstSeen.Local().Format("2006-01-02 15:04:05.000")
	if l.Open {
		when += ", still open at the record's last commit"
	} else {
		when += ", last seen " + l.LastSeen.Local().Format("15:04:05.000") + " (" + shortDuration(l.LastSeen.Sub(l.FirstSeen)) + ")"
	}
	d.field("When", when)
	if k := v.Known; k != nil {
		d.field("What", k.What)
	}
	if l.Direction != history.NoDirection {
		d.field("Direction", l.Direction.String())
	}
	owner := "unknown: the record has no process for it (an arrival no process accepted, or one gone before it could be read)"
	if l.Owner.PID != 0 || l.Owner.Process != "" {
		owner = safetext.Visible(l.Owner.Process) + " pid " + strconv.Itoa(l.Owner.PID)
		if l.Owner.Exe != "" {
			owner += ", " + safetext.Visible(l.Owner.Exe)
		}
		if l.Owner.User != "" {
			owner += ", user " + safetext.Visible(l.Owner.User)
		}
		if l.Owner.Unit != "" {
			owner += ", unit " + safetext.Visible(l.Owner.Unit)
		}
		if l.Owner.Container != "" {
			owner += ", container " + safetext.Visible(l.Owner.Container)
		}
	}
	d.field("Process", owner)
	if len(v.Reasons) > 0 {
		d.field("Verdict", strings.Join(v.Reasons, "; ")+" (judged by its bind and the baseline: what the firewall did then is not known)")
	}
	source := "the kernel's events (eBPF)"
	if l.Source == history.Poll {
		source = "polling: what lived shorter than the recorder's interval may be missing"
	}
	d.field("Recorded", "by "+source+", in "+safetext.Visible(rec.Path))
}
