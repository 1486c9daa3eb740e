package container

import (
	"net/netip"

	"github.com/portwarden/portwarden/services/firewall/kernel"
	"github.com/portwarden/portwarden/sockets"
)

// Index tells the container of each socket of a snapshot: the container of
// a process holding it (which covers --network host containers), else the
// container whose network namespace it lives in (which covers a listener
// held by no process of the container).
type Index struct {
	byPID   map[int]*Info
	byNetNS map[uint64]*Info
	hostNS  uint64
	all     []*Info              // every container named, once
	byIP    map[netip.Addr]*Info // containers by address
	proxied map[proxyKey]bool    // host endpoints docker-proxy holds
	dnat    []kernel.DNAT        // port forwards read from the packet filter
}

// AddDNAT adds port forwards read from the packet filter: a forward to a
// container's listener publishes it, as the engine's record does.
func (x *Index) AddDNAT(rules []kernel.DNAT) {
	if x != nil {
		x.dnat = append(x.dnat, rules...)
	}
}

// Index builds the index of snap from what the resolver knows now, and
// asks the engines about containers it does not know yet. cgroupOf reads
// a process's control group (for the processes living in a namespace).
func (r *Resolver) Index(snap *sockets.Snapshot, cgroupOf func(pid int) string) *Index {
	x := &Index{byPID: map[int]*Info{}, byNetNS: map[uint64]*Info{}, byIP: map[netip.Addr]*Info{}, proxied: map[proxyKey]bool{}}
	if len(snap.Namespaces) > 0 && snap.Namespaces[0].Host {
		x.hostNS = snap.Namespaces[0].Inode
	}
	for _, p := range snap.Holders() {
		if ref, ok := FromCgroup(p.Cgroup); ok {
			x.byPID[p.PID] = x.info(r, ref)
		}
		if p.Name == "docker-proxy" {
			if proto, host, _, ok := proxyTarget(p.Cmdline); ok {
				x.proxied[proxyKey{proto, host}] = true
			}
		}
	}
	for _, ns := range snap.Namespaces {
		if ns.Host || ns.PID == 0 {
			continue
		}
		if ref, ok := FromCgroup(cgroupOf(ns.PID)); ok {
			x.byNetNS[ns.Inode] = x.info(r, ref)
		}
	}
	return x
}

// info returns the index's one Info of ref, asking the resolver the first
// time.
func (x *Index) info(r *Resolver, ref Ref) *Info {
	for _, c := range x.all {
		if c.Ref == ref {
			return c
		}
	}
	info := r.Lookup(ref)
	c := &info
	x.all = append(x.all, c)
	for _, ip := range c.IPs {
		x.byIP[ip] = c
	}
	return c
}

// Of returns the container of s, or nil.
func (x *Index) Of(s *sockets.Socket) *Info {
	if x == nil {
		return nil
	}
	for _, p := range s.Processes {
		if c := x.byPID[p.PID]; c != nil {
			return c
		}
	}
	return x.byNetNS[s.NetNS]
}

// Inside returns the container whose own network namespace s lives in —
// not the host's, as a --network host container's sockets do — or nil.
func (x *Index) Inside(s *sockets.Socket) *Info {
	if x == nil || s.NetNS == x.hostNS {
		return nil
	}
	return x.byNetNS[s.NetNS]
}

// HasAddr reports whether addr is a known container's address.
func (x *Index) HasAddr(addr netip.Addr) bool {
	if x == nil {
		return false
	}
	_, ok := x.byIP[addr]
	return ok
}

// Refs lists every container the index names.
func (x *Index) Refs() []Ref {
	if x == nil {
		return nil
	}
	refs := make([]Ref, len(x.all))
	for i, c := range x.all {
		refs[i] = c.Ref
	}
	return refs
}
