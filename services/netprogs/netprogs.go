// Package netprogs lists the eBPF programs attached to network
// interfaces — XDP (before the kernel's stack sees a frame) and tc's
// tcx hooks (ingress and egress, before the firewall) — in every
// network namespace, with who holds or pins each, and judges them: a
// program no known tool put there sees and may rewrite every packet
// unseen by ss or the firewall, where eBPF backdoors live.
package netprogs

import (
	"path"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/catalog"
)

// Program is one eBPF program attached to an interface.
type Program struct {
	Hook      string // "xdp", "xdp (generic)", "xdp (offloaded)", "tcx ingress", "tcx egress"
	Ifindex   int
	Interface string
	NetNS     uint64 // the interface's namespace
	ID        uint32
	Name      string // as its loader named it; "" when the kernel does not say
	Tag       string // the hash of its instructions
	LinkID    uint32 // the bpf link attaching it; 0: attached without one
	// Holders are the processes holding the program or its link open.
	Holders []Holder
	// Pins are the bpffs files that keep it or its link alive.
	Pins []string
}

// Holder is a process holding a program or its link.
type Holder struct {
	PID  int
	Name string // comm
	Exe  string
}

// Judged is a program with its verdict.
type Judged struct {
	Program Program
	Verdict Verdict
}

// Verdict is what portwarden makes of an attached program.
type Verdict struct {
	// Known names the tool that put it there ("Cilium's agent"); ""
	// when none known did.
	Known   string
	Risk    catalog.Risk
	Reasons []string
}

// Label is the verdict as a table shows it: "expected", or
// "UNEXPECTED high".
func (v Verdict) Label() string { return v.label(v.Risk.String()) }

// ShortLabel is Label for narrow tables: "UNEXPECTED high".
func (v Verdict) ShortLabel() string { return v.label(v.Risk.Short()) }

func (v Verdict) label(risk string) string {
	if v.Known != "" {
		return "expected"
	}
	return "UNEXPECTED " + risk
}

// knownHolders are the programs that attach eBPF to interfaces for a
// living, by executable base name (from a system directory, or /opt).
var knownHolders = map[string]string{
	"cilium-agent": "Cilium's agent", "calico-node": "Calico's agent", "calico-felix": "Calico's agent",
	"xdp-loader": "xdp-tools", "xdpd": "xdp-tools", "katran_server_grpc": "Katran", "suricata": "Suricata (its XDP bypass)",
	"portwarden": "portwarden", "systemd-networkd": "systemd-networkd", "bpfilter": "bpfilter",
}

// knownPins are bpffs directories tools pin their network programs under.
var knownPins = map[string]string{
	"xdp": "libxdp (xdp-loader's dispatcher)", "tc": "iproute2 tc", "cilium": "Cilium", "calico": "Calico",
}

// Judge says whether a known tool holds or pins p; else it is unexpected
// (high): nothing that admins install puts an anonymous program in front
// of the network.
func Judge(p *Program) Verdict {
	for _, h := range p.Holders {
		if what := knownHolders[path.Base(h.Exe)]; what != "" && systemPath(h.Exe) {
			return Verdict{Known: what, Reasons: []string{"held by " + h.Exe + " (" + what + ")"}}
		}
	}
	for _, pin := range p.Pins {
		rest, ok := strings.CutPrefix(pin, "/sys/fs/bpf/")
		if !ok {
			continue
		}
		dir, _, _ := strings.Cut(rest, "/")
		if what := knownPins[dir]; what != "" {
			return Verdict{Known: what, Reasons: []string{"pinned at " + pin + " (" + what + ")"}}
		}
	}
	v := Verdict{Risk: catalog.High}
	what := "an eBPF program on " + p.Hook + " of " + ifName(p) + " that no known tool holds or pins"
	switch {
	case len(p.Holders) > 0:
		h := p.Holders[0]
		what += ": held by " + strconv.Quote(h.Exe) + " (pid " + strconv.Itoa(h.PID) + ")"
	case len(p.Pins) > 0:
		what += ": pinned at " + p.Pins[0]
	case p.LinkID == 0:
		what += ": attached without a link, so no process need keep it (ip link set … xdp, or a loader that exited)"
	default:
		what += ": its link is held by no process this user can see"
	}
	v.Reasons = append(v.Reasons, what)
	return v
}

func ifName(p *Program) string {
	if p.Interface != "" {
		return p.Interface
	}
	return "interface " + strconv.Itoa(p.Ifindex)
}

// systemPath reports whether exe lives where packages install programs.
func systemPath(exe string) bool {
	for _, dir := range []string{"/usr/", "/bin/", "/sbin/", "/opt/"} {
		if strings.HasPrefix(exe, dir) {
			return true
		}
	}
	return false
}
