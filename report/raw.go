package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/bpffilter"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// Portless is what receives from the network without a port, judged:
// packet and raw IP sockets, and the eBPF programs on interfaces.
type Portless struct {
	Raw      []verdict.JudgedRaw
	Programs []netprogs.Judged
}

// summarize adds pl to a summary of the sockets.
func (pl Portless) summarize(sum *verdict.Summary, p verdict.Policy) {
	sum.AddRaw(pl.Raw, p)
	sum.AddPrograms(pl.Programs, p)
}

// NetworkProgram is an eBPF program on an interface, judged, in JSON.
type NetworkProgram struct {
	Hook      string   `json:"hook"` // "xdp", "xdp (generic)", "tcx ingress", "tcx egress"
	Interface string   `json:"interface"`
	Ifindex   int      `json:"ifindex"`
	NetNS     *NetNS   `json:"netns"`
	ID        uint32   `json:"id"`
	Name      string   `json:"name"`
	Tag       string   `json:"tag"`
	LinkID    uint32   `json:"link_id"` // 0: attached without a link
	Holders   []Holder `json:"holders"`
	Pins      []string `json:"pins"`
	Known     *string  `json:"known"` // the tool that put it there; null: none known
	Risk      string   `json:"risk"`
	Reasons   []string `json:"reasons"`
}

// Holder is a process holding an eBPF program or its link, in JSON.
type Holder struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	Exe  string `json:"exe"`
}

// programsJSON lists the judged programs the pick wants, in JSON.
func programsJSON(snap *sockets.Snapshot, progs []netprogs.Judged, pick func(netprogs.Verdict) bool) []NetworkProgram {
	out := []NetworkProgram{}
	for _, j := range progs {
		if !pick(j.Verdict) {
			continue
		}
		p := j.Program
		np := NetworkProgram{Hook: p.Hook, Interface: p.Interface, Ifindex: p.Ifindex, ID: p.ID, Name: p.Name, Tag: p.Tag,
			LinkID: p.LinkID, Holders: []Holder{}, Pins: append([]string{}, p.Pins...), Known: optional(j.Verdict.Known),
			Risk: j.Verdict.Risk.String(), Reasons: append([]string{}, j.Verdict.Reasons...)}
		if ns := snap.Namespace(p.NetNS); ns != nil {
			np.NetNS = &NetNS{Inode: ns.Inode, Name: optional(ns.Name), Host: ns.Host}
		}
		for _, h := range p.Holders {
			np.Holders = append(np.Holders, Holder{PID: h.PID, Name: h.Name, Exe: h.Exe})
		}
		out = append(out, np)
	}
	return out
}

// programRow is a program as a row of WriteTable.
func programRow(snap *sockets.Snapshot, j *netprogs.Judged) []string {
	p, v := &j.Program, j.Verdict
	user, pids, names := "-", "-", "-"
	if len(p.Holders) > 0 {
		pids, names = strconv.Itoa(p.Holders[0].PID), safetext.Visible(p.Holders[0].Name)
	}
	name := p.Name
	if name == "" {
		name = "#" + strconv.Itoa(int(p.ID))
	}
	return []string{strings.Fields(p.Hook)[0], "-", safetext.Visible(p.Interface) + ":" + safetext.Visible(name), "-", user, pids, names,
		orDash(snap.Namespace(p.NetNS).Label()), orDash(v.Known), "-", v.Label()}
}

// writeProgramsFailing lists the programs on interfaces that fail.
func writeProgramsFailing(w io.Writer, progs []netprogs.Judged, p verdict.Policy, n int) {
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "eBPF programs on interfaces (%d):\n", n)
	for _, j := range progs {
		if p.FailsProgram(j.Verdict) {
			fmt.Fprintf(w, "  %s on %s, id %d %s — %s: %s\n", j.Program.Hook, safetext.Visible(j.Program.Interface), j.Program.ID,
				safetext.Visible(j.Program.Name), j.Verdict.Risk, safetext.Visible(strings.Join(j.Verdict.Reasons, "; ")))
		}
	}
}

// RawSocket is a judged packet or raw IP socket in JSON.
type RawSocket struct {
	Kind      string `json:"kind"`       // "packet" or "raw"
	IPVersion int    `json:"ip_version"` // 4 or 6 for a raw socket; 0 for a packet socket
	// Cooked is set for a packet socket of type SOCK_DGRAM (frames
	// without their link-layer header).
	Cooked bool `json:"cooked"`
	// Protocol is the EtherType (packet) or IP protocol (raw) it
	// receives, and ProtocolName its name ("all", "ip", "icmp").
	Protocol     uint16    `json:"protocol"`
	ProtocolName string    `json:"protocol_name"`
	Ifindex      int       `json:"ifindex"`   // 0: every interface
	Interface    *string   `json:"interface"` // null for every interface, or a name not read
	LocalIP      *string   `json:"local_ip"`  // a raw socket's bound address; null otherwise
	UID          uint32    `json:"uid"`
	Inode        uint64    `json:"inode"`
	Filter       RawFilter `json:"filter"`
	Processes    []Process `json:"processes"`
	// Holder names what an expected holder is ("a DHCP client"); null
	// when the holder is no program known to need one.
	Holder    *string    `json:"holder"`
	Expected  bool       `json:"expected"`
	Risk      string     `json:"risk"`
	Reasons   []string   `json:"reasons"`
	NetNS     *NetNS     `json:"netns"`
	Container *Container `json:"container"`
}

// RawFilter is the classic BPF filter on a raw socket, in JSON.
type RawFilter struct {
	// State is "none", "attached", "ebpf" (attached, not readable as
	// instructions) or "unread".
	State string `json:"state"`
	// Instructions are the filter's, as tcpdump -d prints them; Triggers
	// the comparisons that wait for a magic packet.
	Instructions []string `json:"instructions"`
	Triggers     []string `json:"triggers"`
}

var filterStates = map[sockets.FilterState]string{sockets.FilterUnread: "unread", sockets.FilterNone: "none",
	sockets.FilterAttached: "attached", sockets.FilterEBPF: "ebpf"}

// RawSocketOf returns the JSON form of a judged raw socket living in ns.
func RawSocketOf(j *verdict.JudgedRaw, ns *sockets.Namespace, containers *container.Index) RawSocket {
	r, v := j.Socket, j.Verdict
	out := RawSocket{Kind: r.Kind.String(), IPVersion: r.IPVersion, Cooked: r.Cooked, Protocol: r.Protocol,
		ProtocolName: r.ProtocolName(), Ifindex: r.Ifindex, Interface: optional(r.Interface), UID: r.UID, Inode: r.Inode,
		Filter:    RawFilter{State: filterStates[r.FilterState], Instructions: bpffilter.Disassemble(r.Filter), Triggers: []string{}},
		Processes: processesOf(r.Processes, v), Holder: optional(v.Service), Expected: v.Expected, Risk: v.Risk.String(), Reasons: v.Reasons}
	if r.Kind == sockets.IPSocket && r.Local.IsValid() {
		out.LocalIP = optional(r.Local.String())
	}
	for _, t := range bpffilter.Triggers(r.Filter) {
		out.Filter.Triggers = append(out.Filter.Triggers, t.String())
	}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if ns != nil {
		out.NetNS = &NetNS{Inode: ns.Inode, Name: optional(ns.Name), Host: ns.Host}
	}
	out.Container = containerOf(containers.Of(r.Holding()))
	return out
}

// rawJSON lists the judged raw sockets the pick wants, in JSON.
func rawJSON(snap *sockets.Snapshot, raw []verdict.JudgedRaw, containers *container.Index, pick func(*verdict.Verdict) bool) []RawSocket {
	out := []RawSocket{}
	for i := range raw {
		if pick(raw[i].Verdict) {
			out = append(out, RawSocketOf(&raw[i], snap.Namespace(raw[i].Socket.NetNS), containers))
		}
	}
	return out
}

// rawRow is a raw socket as a row of WriteTable.
func rawRow(snap *sockets.Snapshot, j *verdict.JudgedRaw, containers *container.Index) []string {
	r, v := j.Socket, j.Verdict
	row := tableRow(r.Holding(), snap.Complete)
	row[0], row[1], row[2], row[3] = r.KindLabel(), "-", safetext.Visible(r.LocalLabel()), "-"
	where := orDash(snap.Namespace(r.NetNS).Label())
	if c := containers.Of(r.Holding()); c != nil {
		where = safetext.Visible(c.Label())
	}
	return append(row, where, orDash(v.Service), "-", v.Label())
}

// writeRawFailing lists the raw sockets whose holders' signs fail.
func writeRawFailing(w io.Writer, raw []verdict.JudgedRaw, p verdict.Policy, n int) {
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "packet and raw sockets (%d):\n", n)
	for i := range raw {
		if v := raw[i].Verdict; p.FailsSigned(v) {
			r := raw[i].Socket
			fmt.Fprintf(w, "  %s (%s) — %s: %s\n", r.String(), owners(r.Holding()), v.Risk,
				safetext.Visible(strings.Join(v.Reasons, "; ")))
		}
	}
}
