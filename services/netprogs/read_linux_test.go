package netprogs

import (
	"net"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// attach loads a program that passes every packet and attaches it to
// interface name of ns at the hook: a real XDP (generic) or tcx program,
// held by this test through its link.
func attach(t *testing.T, ns *sockettest.Namespace, name, hook string) {
	t.Helper()
	spec := &ebpf.ProgramSpec{Name: "pw_" + hook, Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}} // XDP_PASS
	if hook != "xdp" {
		spec.Type, spec.Instructions = ebpf.SchedCLS, asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()} // TCX_NEXT
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		t.Fatalf("load %s program: %v", hook, err)
	}
	t.Cleanup(func() { prog.Close() })
	var l link.Link
	if err := ns.Do(func() error {
		iface, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		if hook == "xdp" {
			l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: iface.Index, Flags: link.XDPGenericMode})
		} else {
			l, err = link.AttachTCX(link.TCXOptions{Program: prog, Interface: iface.Index, Attach: ebpf.AttachTCXIngress})
		}
		return err
	}); err != nil {
		t.Fatalf("attach %s: %v", hook, err)
	}
	t.Cleanup(func() { l.Close() })
}

// TestReadsAttachedPrograms attaches a real XDP program and a real tcx
// ingress program to a veth in a namespace and finds both, named, with
// this test as their holder, judged unexpected.
func TestReadsAttachedPrograms(t *testing.T) {
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	ns := sockettest.NamespaceForTest(t, "pwprogs")
	for _, args := range [][]string{{"link", "add", "pwp0", "type", "veth", "peer", "name", "pwp1"},
		{"link", "set", "pwp0", "up"}, {"link", "set", "pwp1", "up"}} {
		if err := ns.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	attach(t, ns, "pwp0", "xdp")
	attach(t, ns, "pwp1", "tcx")
	snap, err := sockets.NewLinuxCollector("/proc", sockets.Netlink).Collect(sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)})
	if err != nil {
		t.Fatal(err)
	}
	progs, warnings := Read("/proc", snap.Namespaces)
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	found := map[string]*Program{}
	for i := range progs {
		found[progs[i].Interface+" "+progs[i].Hook] = &progs[i]
	}
	for where, name := range map[string]string{"pwp0 xdp (generic)": "pw_xdp", "pwp1 tcx ingress": "pw_tcx"} {
		p := found[where]
		if p == nil {
			t.Errorf("%s: not found in %+v", where, progs)
			continue
		}
		if p.Name != name || p.Tag == "" || p.LinkID == 0 || p.NetNS != snap.Namespaces[0].Inode {
			t.Errorf("%s: got %+v", where, p)
		}
		self := false
		for _, h := range p.Holders {
			self = self || h.PID == os.Getpid()
		}
		if !self {
			t.Errorf("%s: holders %+v, want this test (pid %d)", where, p.Holders, os.Getpid())
		}
		if v := Judge(p); v.Known != "" || v.Risk.String() != "high" {
			t.Errorf("%s: verdict %+v, want unexpected", where, v)
		}
	}
}
