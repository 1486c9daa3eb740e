package container

import "github.com/portwarden/portwarden/sockets"

// Index tells the container of each socket of a snapshot: the container of
// a process holding it (which covers --network host containers), else the
// container whose network namespace it lives in (which covers a listener
// held by no process of the container).
type Index struct {
	byPID   map[int]Info
	byNetNS map[uint64]Info
}

// Index builds the index of snap from what the resolver knows now, and
// asks the engines about containers it does not know yet. cgroupOf reads
// a process's control group (for the processes living in a namespace).
func (r *Resolver) Index(snap *sockets.Snapshot, cgroupOf func(pid int) string) *Index {
	x := &Index{byPID: map[int]Info{}, byNetNS: map[uint64]Info{}}
	seen := map[int]bool{}
	for i := range snap.Sockets {
		for _, p := range snap.Sockets[i].Processes {
			if seen[p.PID] {
				continue
			}
			seen[p.PID] = true
			if ref, ok := FromCgroup(p.Cgroup); ok {
				x.byPID[p.PID] = r.Lookup(ref)
			}
		}
	}
	for _, ns := range snap.Namespaces {
		if ns.Host || ns.PID == 0 {
			continue
		}
		if ref, ok := FromCgroup(cgroupOf(ns.PID)); ok {
			x.byNetNS[ns.Inode] = r.Lookup(ref)
		}
	}
	return x
}

// Of returns the container of s, or nil.
func (x *Index) Of(s *sockets.Socket) *Info {
	if x == nil {
		return nil
	}
	for _, p := range s.Processes {
		if info, ok := x.byPID[p.PID]; ok {
			return &info
		}
	}
	if info, ok := x.byNetNS[s.NetNS]; ok {
		return &info
	}
	return nil
}

// Refs lists every container the index names.
func (x *Index) Refs() []Ref {
	if x == nil {
		return nil
	}
	var refs []Ref
	seen := map[Ref]bool{}
	for _, m := range []map[int]Info{x.byPID} {
		for _, i := range m {
			if !seen[i.Ref] {
				seen[i.Ref] = true
				refs = append(refs, i.Ref)
			}
		}
	}
	for _, i := range x.byNetNS {
		if !seen[i.Ref] {
			seen[i.Ref] = true
			refs = append(refs, i.Ref)
		}
	}
	return refs
}
