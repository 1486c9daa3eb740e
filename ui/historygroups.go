package ui

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
)

// The History view for triage: the record's lifetimes of a window that
// moves ([ and ] by its length, - and + change it), each lifetime a row or
// grouped by peer or by service port (v), and a source's refused or
// sub-millisecond attempts folded into one line — a 2,000-port connect
// scan is one row, and the real traffic stays in sight. enter on a group
// shows its lifetimes (a field filter: peer: or port:).

// historyGrouping is how the History view gathers lifetimes.
type historyGrouping uint8

const (
	groupNone historyGrouping = iota // a row each, attempts folded
	groupPeer
	groupPort
	groupingCount
)

var groupingNames = [groupingCount]string{"each lifetime", "by peer", "by port"}

// spans are the window lengths - and + step through.
var spans = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// foldAt is how many attempts of one source make a folded row.
const foldAt = 3

// histGroup is a row standing for several lifetimes.
type histGroup struct {
	title   string // what the group is: "198.51.100.9", "tcp/22 ssh", "198.51.100.9: 1998 refused attempts"
	expand  string // the filter that shows its lifetimes
	members []int  // indexes in Recent.Lifetimes
}

// attempt says whether a lifetime is an attempt more than a connection:
// refused (an outbound one that never got its local port: never
// established) or over in under a millisecond.
func attempt(l *history.Lifetime) string {
	switch {
	case l.Kind != history.Connection || l.Open:
		return ""
	case l.Direction == history.Outbound && l.Local.Port() == 0:
		return "refused"
	case l.LastSeen.Sub(l.FirstSeen) < time.Millisecond:
		return "sub-ms"
	}
	return ""
}

// groupKey names the group a lifetime belongs to, "" for none.
func groupKey(l *history.Lifetime, g historyGrouping, fold bool) (key, title, expand string) {
	switch g {
	case groupPeer:
		if l.Kind != history.Connection {
			return "listeners", "listeners", "listener"
		}
		a := l.Remote.Addr().Unmap().String()
		return a, a, "peer:" + a
	case groupPort:
		p := strconv.Itoa(int(l.ServicePort))
		return l.Proto.String() + "/" + p, l.Proto.String() + "/" + p, "port:" + p
	}
	if kind := attempt(l); fold && kind != "" {
		a := l.Remote.Addr().Unmap().String()
		return a + " " + l.Direction.String() + " " + kind, a + ": " + kind + " " + l.Direction.String() + " attempts", "peer:" + a
	}
	return "", "", ""
}

// historyGroupRows builds the group rows of r and the rows of the
// lifetimes in no group; lifetime is the row of one lifetime.
func historyGroupRows(r *app.Recent, g historyGrouping, fold bool, lifetime func(i int) *row) ([]*row, map[rowKey]*histGroup) {
	groups := map[string]*histGroup{}
	var order []string
	var rows []*row
	for i := range r.Lifetimes {
		key, title, expand := groupKey(&r.Lifetimes[i], g, fold)
		if key == "" {
			rows = append(rows, lifetime(i))
			continue
		}
		gr := groups[key]
		if gr == nil {
			gr = &histGroup{title: title, expand: expand}
			groups[key] = gr
			order = append(order, key)
		}
		gr.members = append(gr.members, i)
	}
	byKey := map[rowKey]*histGroup{}
	for _, key := range order {
		gr := groups[key]
		if g == groupNone && len(gr.members) < foldAt {
			for _, i := range gr.members { // too few to fold
				rows = append(rows, lifetime(i))
			}
			continue
		}
		row := groupRow(r, key, gr)
		byKey[row.key] = gr
		rows = append(rows, row)
	}
	return rows, byKey
}

// groupRow sums a group up in the History view's columns.
func groupRow(r *app.Recent, key string, gr *histGroup) *row {
	var first, last time.Time
	var worst *verdict.Verdict
	open := false
	protos, locals, peers, dirs, procs := map[string]bool{}, map[uint16]bool{}, map[netip.Addr]bool{}, map[string]bool{}, map[string]bool{}
	for _, i := range gr.members {
		l, v := &r.Lifetimes[i], r.Judged[i].Verdict
		if first.IsZero() || l.FirstSeen.Before(first) {
			first = l.FirstSeen
		}
		if l.LastSeen.After(last) {
			last = l.LastSeen
		}
		if worst == nil || v.Severity() > worst.Severity() {
			worst = v
		}
		protos[l.Proto.String()] = true
		locals[l.ServicePort] = true
		open = open || l.Open
		if l.Kind == history.Connection {
			peers[l.Remote.Addr().Unmap()] = true
			dirs[shortDirections[l.Direction]] = true
		}
		if l.Owner.Process != "" {
			procs[l.Owner.Process] = true
		}
	}
	count := func(n int, one, many string) string {
		switch n {
		case 0:
			return "-"
		case 1:
			return one
		}
		return strconv.Itoa(n) + " " + many
	}
	single := func(set map[string]bool, many string) string {
		if len(set) == 0 {
			return "-"
		}
		if len(set) == 1 {
			for k := range set {
				return k
			}
		}
		return count(len(set), "", many)
	}
	local := count(len(locals), "", "ports")
	if len(locals) == 1 {
		for p := range locals {
			local = "*:" + strconv.Itoa(int(p))
		}
	}
	remote := count(len(peers), "", "peers")
	if len(peers) == 1 {
		for a := range peers {
			remote = a.String()
		}
	}
	lasted := shortDuration(last.Sub(first))
	if open {
		lasted = "open"
	}
	processes := single(procs, "processes")
	if len(procs) == 1 {
		processes = safetext.Visible(processes)
	}
	n := len(gr.members)
	row := &row{
		key: rowKey{group: key},
		cells: []string{"", first.Local().Format("15:04:05.000"), strconv.Itoa(n), lasted,
			dash(single(protos, "protos")), dash(local), dash(remote), dash(strings.Join(slices.Sorted(maps.Keys(dirs)), ",")), "-",
			processes, "-", worst.ShortLabel()},
		class:    worst.Class(),
		sortKeys: sortKeys{when: first.UnixNano(), severity: worst.Severity(), count: n, process: processes},
		sock:     -1,
	}
	row.sig = strings.Join(row.cells, "\x00")
	row.search = strings.ToLower(gr.title + " " + strings.Join(row.cells[1:], " "))
	return row
}

// selectedGroup is the History view's group row under the cursor, or nil.
func (m *Model) selectedGroup() *histGroup {
	r := m.table().selected()
	if m.view != viewHistory || r == nil || r.key.group == "" {
		return nil
	}
	return m.histGroups[r.key]
}

// expandGroup shows a group's lifetimes: its field filter, a row each.
func (m *Model) expandGroup(g *histGroup) {
	m.histGroup = groupNone
	m.filter.SetValue(g.expand)
	m.applyFilter()
	m.regroup()
	m.showFrame()
}

// regroup starts the History view's table afresh: its rows are gathered
// otherwise now, and the old ones neither stay nor read as gone.
func (m *Model) regroup() {
	m.tables[viewHistory].clearRows()
	m.seen[viewHistory] = 0
}

// moveWindow moves the History view's window ([ ]) or changes its
// length (- +). Later than now follows the record again.
func (m *Model) moveWindow(msg tea.KeyPressMsg) {
	w, k, now := &m.histWindow, m.keys, m.cfg.Now()
	span := w.Span
	if span <= 0 {
		span = app.DefaultSpan
	}
	switch {
	case key.Matches(msg, k.Earlier):
		_, until := w.Bounds(now)
		w.Until = until.Add(-span)
	case key.Matches(msg, k.Later):
		if !w.Until.IsZero() {
			w.Until = w.Until.Add(span)
			if !w.Until.Before(now) {
				w.Until = time.Time{}
			}
		}
	case key.Matches(msg, k.Narrower), key.Matches(msg, k.Wider):
		i := slices.Index(spans, span)
		if i < 0 {
			i = slices.Index(spans, app.DefaultSpan)
		}
		if key.Matches(msg, k.Narrower) && i > 0 {
			i--
		} else if key.Matches(msg, k.Wider) && i < len(spans)-1 {
			i++
		}
		w.Span = spans[i]
	}
}

// spanName is a window's length as the admin counts it: 15m, 1h, 7d.
func spanName(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return shortDuration(d)
}

// windowLine says which stretch of the record the History view shows.
func (m *Model) windowLine() string {
	since, until := m.histWindow.Bounds(m.cfg.Now())
	layout := "15:04:05"
	if until.Sub(since) >= 24*time.Hour {
		layout = "Jan 02 15:04"
	}
	live := ", following"
	if !m.histWindow.Until.IsZero() {
		live = ""
	}
	line := "window " + since.Local().Format(layout) + "–" + until.Local().Format(layout) + " (" + spanName(until.Sub(since)) + live + ") · " + groupingNames[m.histGroup]
	if r := m.frame.Recent; r != nil && r.Truncated {
		line += " · the newest 20,000 only: - narrows the window"
	}
	return line
}

// describeGroup sums up a group row of the History view.
func (m *Model) describeGroup(d *detailWriter, g *histGroup) {
	r := m.frame.Recent
	d.title(safetext.Visible(g.title) + " · " + strconv.Itoa(len(g.members)) + " lifetimes")
	ports := map[uint16]bool{}
	kinds := map[string]int{}
	for _, i := range g.members {
		l := &r.Lifetimes[i]
		ports[l.ServicePort] = true
		if k := attempt(l); k != "" {
			kinds[k]++
		}
	}
	list := make([]uint16, 0, len(ports))
	for p := range ports {
		list = append(list, p)
	}
	slices.Sort(list)
	d.field("Ports", history.PortRanges(list))
	if n := kinds["refused"]; n > 0 {
		d.field("Refused", strconv.Itoa(n)+" connections this host opened that were never established (refused or unanswered)")
	}
	if n := kinds["sub-ms"]; n > 0 {
		d.field("Sub-ms", strconv.Itoa(n)+" connections over in under a millisecond: a connect scan completes a handshake and leaves at once")
	}
	d.field("Shows", "enter lists each lifetime ("+safetext.Visible(g.expand)+"); esc then clears the filter")
}
