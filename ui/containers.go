package ui

import (
	"slices"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/verdict"
)

var containerColumns = []column{
	{title: "", min: 1, ideal: 1, priority: 100},
	{title: "CONTAINER", min: 9, ideal: 16, priority: 95, compare: byProcess},
	{title: "IMAGE", min: 5, ideal: 16, priority: 60, compare: byUser},
	{title: "PUBLISHED", min: 9, ideal: 24, priority: 90, compare: byLocal},
	{title: "INTERNAL", min: 8, ideal: 16, priority: 80, compare: byService},
	{title: "CONNS", min: 5, ideal: 5, priority: 50, compare: byCount},
	{title: "VERDICT", min: 10, ideal: 19, priority: 85, compare: bySeverity},
}

// containerRows folds a frame's sockets into one row per container: its
// published listeners (host endpoint → container port), the listeners
// only its own network reaches, and its connections.
func containerRows(f *app.Inspection) []*row {
	type agg struct {
		c                   *container.Info
		published, internal []string
		conns               int
		worst               *verdict.Verdict
		severity            int
	}
	byRef := map[container.Ref]*agg{}
	var order []container.Ref
	for i := range f.Judged {
		s, v := f.Judged[i].Socket, f.Judged[i].Verdict
		c := f.Containers.Of(s)
		if c == nil {
			continue
		}
		a := byRef[c.Ref]
		if a == nil {
			a = &agg{c: c, severity: -1}
			byRef[c.Ref] = a
			order = append(order, c.Ref)
		}
		switch {
		case !s.Listening():
			a.conns++
		case f.Containers.Inside(s) == nil: // --network host: its ports are the host's
			a.published = append(a.published, s.Proto.String()+"/"+strconv.Itoa(int(s.Local.Port()))+" (host network)")
		default:
			pubs := f.Containers.PublishedOf(s)
			for _, p := range pubs {
				a.published = append(a.published, p.Host.String()+"→"+strconv.Itoa(int(s.Local.Port())))
			}
			if len(pubs) == 0 {
				a.internal = append(a.internal, s.Proto.String()+"/"+strconv.Itoa(int(s.Local.Port())))
			}
		}
		if sev := v.Severity(); sev > a.severity {
			a.severity, a.worst = sev, v
		}
	}
	rows := make([]*row, 0, len(order))
	for _, ref := range order {
		a := byRef[ref]
		list := func(l []string) string {
			slices.Sort(l)
			if l = slices.Compact(l); len(l) == 0 {
				return "-"
			}
			return strings.Join(l, " ")
		}
		name, image := safetext.Visible(a.c.Label()), safetext.Visible(a.c.Image)
		if image == "" {
			image = "?"
		}
		r := &row{
			key:      rowKey{ctr: ref},
			cells:    []string{"", name, image, list(a.published), list(a.internal), strconv.Itoa(a.conns), a.worst.ShortLabel()},
			class:    a.worst.Class(),
			sock:     -1,
			sortKeys: sortKeys{process: name, user: image, service: list(a.internal), count: a.conns, severity: a.severity},
		}
		r.sig = strings.Join(r.cells, "\x00")
		r.search = strings.ToLower(strings.Join(r.cells[1:], " ") + " " + a.c.ID)
		rows = append(rows, r)
	}
	return rows
}

// describeContainer explains a container row.
func (m *Model) describeContainer(d *detailWriter, ref container.Ref) {
	for i := range m.frame.Judged {
		s := m.frame.Judged[i].Socket
		if c := m.frame.Containers.Of(s); c != nil && c.Ref == ref {
			d.title("Container " + c.Label())
			m.describeWhere(d, s)
			d.field("Runtime", c.Runtime+", ID "+c.ID)
			d.field("Published", "a port is published when the host forwards one of its own addresses and ports to the container (docker run -p); the others are reachable only from the container's network. Select a socket in the Listeners view for its verdict.")
			return
		}
	}
	d.plain("This container no longer holds any socket.")
}
