package netprogs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/internal/netns"
	"github.com/portwarden/portwarden/sockets"
)

// IFLA_XDP's nested attributes (linux/if_link.h).
const (
	xdpAttached  = 2
	xdpProgID    = 4
	xdpDrvProgID = 5
	xdpSKBProgID = 6
	xdpHWProgID  = 7
)

// xdpModes name what IFLA_XDP_ATTACHED says.
var xdpModes = map[uint8]string{1: "xdp", 2: "xdp (generic)", 3: "xdp (offloaded)"}

// Read lists the programs attached to the interfaces of each namespace
// (read through its Path), with their holders and pins. It needs root
// (CAP_SYS_ADMIN for the program IDs); what cannot be read is a warning.
func Read(procRoot string, namespaces []sockets.Namespace) ([]Program, []string) {
	var out []Program
	var warnings []string
	for _, ns := range namespaces {
		if ns.Path == "" {
			continue
		}
		progs, err := readNamespace(ns)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("eBPF programs on the interfaces of network namespace %s: %v", ns.Label(), err))
		}
		out = append(out, progs...)
	}
	if len(out) == 0 {
		return nil, warnings
	}
	linkOf := linksByProgram()
	for i := range out {
		p := &out[i]
		if p.LinkID == 0 {
			p.LinkID = linkOf[p.ID]
		}
		if prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(p.ID)); err == nil {
			if info, err := prog.Info(); err == nil {
				p.Name, p.Tag = info.Name, info.Tag
			}
			prog.Close()
		}
	}
	progHolders, linkHolders, err := holders(procRoot)
	if err != nil {
		warnings = append(warnings, "the holders of eBPF programs: "+err.Error())
	}
	pins := pinned()
	for i := range out {
		p := &out[i]
		p.Holders, p.Pins = slices.Clone(progHolders[p.ID]), slices.Clone(pins[key{prog: p.ID}])
		if p.LinkID != 0 {
			p.Holders = append(p.Holders, linkHolders[p.LinkID]...)
			p.Pins = append(p.Pins, pins[key{link: p.LinkID}]...)
		}
	}
	return out, warnings
}

// readNamespace reads the XDP programs from the interfaces' attributes
// and the tcx ones by querying each interface inside the namespace.
func readNamespace(ns sockets.Namespace) ([]Program, error) {
	f, err := os.Open(ns.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofIfInfomsg)})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list links: %w", err)
	}
	var out []Program
	type iface struct {
		index int
		name  string
	}
	var ifs []iface
	for _, m := range msgs {
		if len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		i := iface{index: int(int32(binary.NativeEndian.Uint32(m.Data[4:8])))}
		var xdp []Program
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:])
		if err != nil {
			continue
		}
		for ad.Next() {
			switch ad.Type() {
			case unix.IFLA_IFNAME:
				i.name = ad.String()
			case unix.IFLA_XDP:
				ad.Nested(func(nad *netlink.AttributeDecoder) error { xdp = xdpPrograms(nad); return nil })
			}
		}
		for k := range xdp {
			xdp[k].Ifindex, xdp[k].Interface, xdp[k].NetNS = i.index, i.name, ns.Inode
		}
		out = append(out, xdp...)
		ifs = append(ifs, i)
	}
	var queryErr error
	err = netns.Do(ns.Path, func() error {
		for _, i := range ifs {
			for _, hook := range []struct {
				name   string
				attach ebpf.AttachType
			}{{"tcx ingress", ebpf.AttachTCXIngress}, {"tcx egress", ebpf.AttachTCXEgress}} {
				res, err := link.QueryPrograms(link.QueryOptions{Target: i.index, Attach: hook.attach})
				if err != nil {
					queryErr = fmt.Errorf("tcx programs not read (%w): a tc program there would not be listed", err)
					return nil
				}
				for _, ap := range res.Programs {
					lid, _ := ap.LinkID()
					out = append(out, Program{Hook: hook.name, Ifindex: i.index, Interface: i.name, NetNS: ns.Inode,
						ID: uint32(ap.ID), LinkID: uint32(lid)})
				}
			}
		}
		return nil
	})
	return out, errors.Join(err, queryErr)
}

// xdpPrograms reads IFLA_XDP: one program in one mode, or one per mode.
func xdpPrograms(ad *netlink.AttributeDecoder) []Program {
	var mode uint8
	ids := map[uint16]uint32{}
	for ad.Next() {
		switch t := ad.Type(); t {
		case xdpAttached:
			mode = ad.Uint8()
		case xdpProgID, xdpDrvProgID, xdpSKBProgID, xdpHWProgID:
			ids[t] = ad.Uint32()
		}
	}
	if mode == 0 {
		return nil
	}
	if hook, ok := xdpModes[mode]; ok && ids[xdpProgID] != 0 {
		return []Program{{Hook: hook, ID: ids[xdpProgID]}}
	}
	var out []Program // several modes at once
	for t, hook := range map[uint16]string{xdpDrvProgID: "xdp", xdpSKBProgID: "xdp (generic)", xdpHWProgID: "xdp (offloaded)"} {
		if ids[t] != 0 {
			out = append(out, Program{Hook: hook, ID: ids[t]})
		}
	}
	slices.SortFunc(out, func(a, b Program) int { return strings.Compare(a.Hook, b.Hook) })
	return out
}

// linksByProgram maps each program attached to an interface by a link to
// that link.
func linksByProgram() map[uint32]uint32 {
	out := map[uint32]uint32{}
	var it link.Iterator
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue
		}
		switch info.Type {
		case link.XDPType, link.TCXType, link.NetkitType:
			out[uint32(info.Program)] = uint32(it.ID)
		}
	}
	return out
}

// holders finds, in every process's open files, the eBPF programs and
// links each holds (fdinfo's prog_id and link_id).
func holders(procRoot string) (progs, links map[uint32][]Holder, err error) {
	progs, links = map[uint32][]Holder{}, map[uint32][]Holder{}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return progs, links, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := procRoot + "/" + e.Name()
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue
		}
		var h *Holder
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(target, "anon_inode:bpf") {
				continue
			}
			field := map[string]string{"anon_inode:bpf-prog": "prog_id", "anon_inode:bpf_link": "link_id"}[target]
			if field == "" {
				continue
			}
			id, ok := fdinfoField(dir+"/fdinfo/"+fd.Name(), field)
			if !ok {
				continue
			}
			if h == nil {
				comm, _ := os.ReadFile(dir + "/comm")
				exe, _ := os.Readlink(dir + "/exe")
				h = &Holder{PID: pid, Name: strings.TrimSpace(string(comm)), Exe: exe}
			}
			m := progs
			if field == "link_id" {
				m = links
			}
			if !slices.Contains(m[id], *h) {
				m[id] = append(m[id], *h)
			}
		}
	}
	return progs, links, nil
}

// fdinfoField reads "name:\tN" from an fdinfo file.
func fdinfoField(p, name string) (uint32, bool) {
	f, err := os.Open(p)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			return uint32(n), err == nil
		}
	}
	return 0, false
}

// key names a pinned object: a program or a link.
type key struct{ prog, link uint32 }

// pinned reads the bpffs mounts (at most 4,096 files) for pinned links
// and programs.
func pinned() map[key][]string {
	out := map[key][]string{}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return out
	}
	seen := 0
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 0 || sep+1 >= len(f) || f[sep+1] != "bpf" || len(f) < 5 {
			continue
		}
		filepath.WalkDir(f[4], func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if seen++; seen > 4096 {
				return filepath.SkipAll
			}
			if l, err := link.LoadPinnedLink(p, &ebpf.LoadPinOptions{ReadOnly: true}); err == nil {
				if info, err := l.Info(); err == nil {
					out[key{link: uint32(info.ID)}] = append(out[key{link: uint32(info.ID)}], p)
				}
				l.Close()
			} else if prog, err := ebpf.LoadPinnedProgram(p, &ebpf.LoadPinOptions{ReadOnly: true}); err == nil {
				if info, err := prog.Info(); err == nil {
					if id, ok := info.ID(); ok {
						out[key{prog: uint32(id)}] = append(out[key{prog: uint32(id)}], p)
					}
				}
				prog.Close()
			}
			return nil
		})
	}
	return out
}
