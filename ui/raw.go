package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/bpffilter"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

var rawColumns = []column{
	{title: "", min: 1, ideal: 1, priority: 100},
	{title: "KIND", min: 6, ideal: 6, priority: 90, compare: byService},
	{title: "ON", min: 8, ideal: 16, priority: 88, compare: byState},
	{title: "FILTER", min: 6, ideal: 14, priority: 70},
	{title: "PID", min: 5, ideal: 7, priority: 80, compare: byPID},
	{title: "PROCESS", min: 7, ideal: 14, priority: 85, compare: byProcess},
	{title: "USER", min: 5, ideal: 10, priority: 30, compare: byUser},
	{title: "WHERE", min: 5, ideal: 12, priority: 25, compare: byWhere},
	{title: "HOLDER", min: 6, ideal: 16, priority: 40},
	{title: "VERDICT", min: 10, ideal: 17, priority: 96, compare: bySeverity},
}

// filterWords say in a column what is known of a raw socket's filter.
var filterWords = map[sockets.FilterState]string{sockets.FilterUnread: "unread", sockets.FilterNone: "none",
	sockets.FilterEBPF: "eBPF"}

// rawRows are the packet and raw sockets, a row each: the sockets that
// receive without a port, which no other view lists.
func rawRows(f *app.Inspection, where func(*sockets.Socket) string) []*row {
	rows := make([]*row, 0, len(f.Raw))
	for i := range f.Raw {
		r, v := f.Raw[i].Socket, f.Raw[i].Verdict
		pids, names, users := owners(r.Holding(), f.Snapshot.Complete)
		filter := filterWords[r.FilterState]
		if r.FilterState == sockets.FilterAttached {
			filter = strconv.Itoa(len(r.Filter)) + " instr."
			if n := len(bpffilter.Triggers(r.Filter)); n > 0 {
				filter = "MAGIC" // a word as well as the colour, whole in the narrowest column
				if n > 1 {
					filter += " ×" + strconv.Itoa(n)
				}
			}
		}
		on, w := safetext.Visible(r.LocalLabel()), where(r.Holding())
		holder := dash(v.Service)
		row := &row{
			key:   rowKey{raw: r.Inode},
			cells: []string{"", r.KindLabel(), on, filter, pids, names, users, w, holder, v.ShortLabel()},
			class: v.Class(),
			sortKeys: sortKeys{service: r.KindLabel(), state: on, process: names, user: users, where: w,
				severity: v.Severity(), pid: firstPID(r.Processes)},
		}
		row.sig = strings.Join(row.cells, "\x00")
		row.search = strings.ToLower(strings.Join(row.cells[1:], " ") + " packet raw")
		rows = append(rows, row)
	}
	for _, j := range f.Programs { // what sees the packets before any socket does
		p, v := j.Program, j.Verdict
		pid, name, class := "-", "-", verdict.ClassUnexpected
		if len(p.Holders) > 0 {
			pid, name = strconv.Itoa(p.Holders[0].PID), safetext.Visible(p.Holders[0].Name)
		}
		if v.Known != "" {
			class = verdict.ClassExpected
		}
		on := safetext.Visible(p.Interface) + ":" + safetext.Visible(dash(p.Name))
		w := dash(f.Snapshot.Namespace(p.NetNS).Label())
		row := &row{
			key:      rowKey{prog: p.ID},
			cells:    []string{"", strings.Fields(p.Hook)[0], on, "eBPF", pid, name, "-", w, dash(v.Known), v.ShortLabel()},
			class:    class,
			sortKeys: sortKeys{service: p.Hook, state: on, process: name, where: w, severity: 10*int(class) + int(v.Risk)},
		}
		row.sig = strings.Join(row.cells, "\x00")
		row.search = strings.ToLower(strings.Join(row.cells[1:], " ") + " ebpf xdp tcx " + p.Tag)
		rows = append(rows, row)
	}
	return rows
}

// selectedProgram returns the eBPF program under the cursor in the Raw
// view, or nil.
func (m *Model) selectedProgram() *netprogs.Judged {
	r := m.table().selected()
	if m.view != viewRaw || m.frame == nil || r == nil || r.key.prog == 0 {
		return nil
	}
	for i := range m.frame.Programs {
		if m.frame.Programs[i].Program.ID == r.key.prog {
			return &m.frame.Programs[i]
		}
	}
	return nil
}

// describeProgram explains an eBPF program on an interface.
func (m *Model) describeProgram(d *detailWriter, j *netprogs.Judged) {
	p, v := j.Program, j.Verdict
	label := v.Label()
	if v.Known != "" {
		label += ": " + v.Known
	}
	d.title("eBPF program " + safetext.Visible(p.Name) + " on " + safetext.Visible(p.Interface) + " (" + p.Hook + ") · " + label)
	d.field("What", "An eBPF program attached here sees every packet the interface receives (XDP: before the kernel's network stack; tcx: before the firewall) and may drop, rewrite or answer it, unseen by ss and by the firewall's rules. Load balancers and container networks (Cilium, Calico) put them here; so do eBPF backdoors.")
	d.field("Program", fmt.Sprintf("id %d, tag %s, link %d: bpftool prog show id %d", p.ID, dash(p.Tag), p.LinkID, p.ID))
	holders := make([]string, 0, len(p.Holders))
	for _, h := range p.Holders {
		holders = append(holders, fmt.Sprintf("%s (pid %d, %s)", safetext.Visible(h.Name), h.PID, safetext.Visible(h.Exe)))
	}
	d.field("Held by", dash(strings.Join(holders, " · ")))
	d.field("Pinned", dash(strings.Join(p.Pins, " · ")))
	d.field("Verdict", safetext.Visible(strings.Join(v.Reasons, "; ")))
	if v.Known == "" {
		d.field("Check", "who loaded it (the holder, or the admin who ran ip link … xdp); to remove it: bpftool net detach on the interface, or end its holder. A legitimate one is acknowledged in the baseline for its holder's executable (sign network-program).")
	}
}

func firstPID(procs []*sockets.Process) int {
	if len(procs) == 0 {
		return 0
	}
	return procs[0].PID
}

// selectedRaw returns the packet or raw socket under the cursor in the
// Raw view, or nil.
func (m *Model) selectedRaw() *verdict.JudgedRaw {
	if m.view != viewRaw || m.frame == nil {
		return nil
	}
	r := m.table().selected()
	if r == nil || r.status == statusGone || r.key.raw == 0 {
		return nil
	}
	for i := range m.frame.Raw {
		if m.frame.Raw[i].Socket.Inode == r.key.raw {
			return &m.frame.Raw[i]
		}
	}
	return nil
}

// rawMeans says what a kind of raw socket receives, for a learner.
var rawMeans = map[sockets.RawKind]string{
	sockets.PacketSocket: "A packet socket receives whole frames from the network card (the interface named, or every one) before the firewall sees them, and needs no port: no port scan, no ss -tulpn and no firewall rule shows it. DHCP clients and capture tools (tcpdump) use one; so do sniffers and backdoors that wake on one magic packet.",
	sockets.IPSocket:     "A raw IP socket receives every packet of one IP protocol that reaches this host (ping's ICMP replies, a routing daemon's OSPF), whatever the port, and needs no port of its own.",
}

// describeRaw explains a packet or raw socket: what it hears, its filter
// decoded, its verdict and signs, and who holds it.
func (m *Model) describeRaw(d *detailWriter, j *verdict.JudgedRaw) {
	r, v := j.Socket, j.Verdict
	d.title(safetext.Visible(r.String()) + " · " + v.Label() + " · risk " + v.Risk.String())
	d.field("What", rawMeans[r.Kind])
	m.describeWhere(d, r.Holding())
	switch r.FilterState {
	case sockets.FilterNone:
		d.field("Filter", "none: it receives everything its protocol and interface let through.")
	case sockets.FilterUnread:
		d.field("Filter", "unknown: the kernel would not say (run portwarden as root).")
	case sockets.FilterEBPF:
		d.field("Filter", "an eBPF program, which the kernel does not give back as instructions: bpftool prog lists it.")
	case sockets.FilterAttached:
		d.field("Filter", strconv.Itoa(len(r.Filter))+" classic BPF instructions (as tcpdump -d prints them): "+strings.Join(bpffilter.Disassemble(r.Filter), " · "))
		for _, t := range bpffilter.Triggers(r.Filter) {
			d.field("!! Trigger", t.String())
		}
	}
	if len(v.Reasons) > 0 {
		d.field("Verdict", safetext.Visible(strings.Join(v.Reasons, "; ")))
	}
	describeSigns(d, r.Holding(), v)
	if len(r.Processes) == 0 {
		d.field("Process", "none seen: its holder's open files could not be read, or it is in flight between processes.")
	}
	for _, p := range r.Processes {
		m.describeProcess(d, p, nil)
	}
}
