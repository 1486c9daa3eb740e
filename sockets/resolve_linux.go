package sockets

import (
	"fmt"
	"slices"

	"github.com/portwarden/portwarden/safetext"
)

// resolve reads the details of each holder walk found, once each, and
// sets the processes of every socket of socks and the snapshot's holders
// and warnings.
func (c *LinuxCollector) resolve(snap *Snapshot, socks []Socket, walk walkResult) {
	held, vanished := c.assign(socks, walk)
	c.settle(snap, held, walk.unreadable, vanished)
}

// assign reads the details of each holder walk found, once each, and sets
// the processes of the sockets of socks it found them holding. It returns
// the processes it set, by PID, and how many holders had exited by then
// (forgotten, as what they held).
func (c *LinuxCollector) assign(socks []Socket, walk walkResult) (held map[int]*Process, vanished int) {
	// Most sockets have one owner: they share that owner's one-element
	// slice. Sockets held by several processes get their own slice.
	single := make(map[int]*Process)
	alone := make(map[int][]*Process)
	vanished = walk.vanished
	owners := func(pid int32) (*Process, bool) {
		if p, ok := single[int(pid)]; ok {
			return p, p != nil
		}
		p, err := c.procs.lookup(int(pid))
		if err != nil {
			vanished++
			p = nil
		}
		single[int(pid)] = p
		return p, p != nil
	}
	for _, h := range walk.hits {
		p, ok := owners(h.pid)
		if !ok {
			continue
		}
		s := &socks[h.socket]
		switch {
		case len(s.Processes) == 0:
			if alone[p.PID] == nil {
				alone[p.PID] = []*Process{p}
			}
			s.Processes = alone[p.PID]
		case slices.Contains(s.Processes, p):
		default:
			list := append(slices.Clone(s.Processes), p)
			slices.SortFunc(list, func(a, b *Process) int { return a.PID - b.PID })
			s.Processes = list
		}
	}
	held = make(map[int]*Process, len(single))
	for pid, p := range single {
		if p != nil {
			held[pid] = p
		} else {
			delete(c.owners.walked, int32(pid)) // gone: forget what it held
			delete(c.owners.holds, int32(pid))
		}
	}
	return held, vanished
}

// settle keeps the details of the processes in held only, makes them the
// snapshot's holders, and warns of the processes whose fds could not be
// read and of those that exited while being read.
func (c *LinuxCollector) settle(snap *Snapshot, held map[int]*Process, unreadable []int, vanished int) {
	c.procs.prune(held)
	snap.holders = holdersOf(held)
	if len(unreadable) > 0 {
		snap.Complete = false
		slices.Sort(unreadable)
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("could not read the open files of %s (%s); their sockets show no owner",
			safetext.Count(len(unreadable), "process", "processes"), pidList(unreadable, 5)))
	}
	if vanished > 0 {
		snap.Warnings = append(snap.Warnings, safetext.Count(vanished, "process", "processes")+" exited while being read")
	}
}

// attributeNew sets the owners of the sockets of snap that have none —
// the connections a table took in since it was last attributed, the
// listeners and UDP sockets read afresh, the packet and raw sockets — and
// keeps the others' as they are, and returns the indexes of the sockets it
// gave owners. It is for a refresh whose owners memory is up to date
// (kept, from ownerMoves): what is new is looked for in memory and in the
// fds of the processes hints names, never in every process's, and at last
// in those named by the changes ahead returns (the kernel's word on a
// socket newer than the changes read). It reports false, having set no
// owner, when the memory is not up to date or a new socket's holder is
// not found there: a full attribution must look.
func (c *LinuxCollector) attributeNew(snap *Snapshot, hints []int32, kept bool, ahead func() []int32) (gained []int32, ok bool) {
	if !kept {
		return nil, false
	}
	var at []int32 // indexes in snap.Sockets of the sockets in fresh
	var fresh []Socket
	for i := range snap.Sockets {
		if s := &snap.Sockets[i]; s.Processes == nil && s.Inode != 0 {
			at = append(at, int32(i))
			fresh = append(fresh, Socket{Inode: s.Inode, NetNS: s.NetNS})
		}
	}
	for _, r := range snap.Raw {
		fresh = append(fresh, Socket{Inode: r.Inode, NetNS: r.NetNS})
	}
	mem := c.owners
	var unknown map[uint64]int32
	for i := range fresh {
		if ino := fresh[i].Inode; ino != 0 && !mem.knows(ino) {
			if unknown == nil {
				unknown = map[uint64]int32{}
			}
			unknown[ino] = int32(i)
		}
	}
	// New sockets are held by the processes the kernel named, or by new
	// ones (a UDP socket, of which the kernel tells nothing).
	if len(unknown) > 0 && !c.walkHinted(append(slices.Clip(hints), mem.newest...), fresh, unknown) &&
		!c.walkHinted(ahead(), fresh, unknown) {
		return nil, false
	}
	c.rawRead = slices.Clone(snap.Raw)
	found, vanished := c.assign(fresh, walkResult{hits: mem.holders(fresh, mem.walked)})
	for j, i := range at {
		if fresh[j].Processes != nil {
			snap.Sockets[i].Processes = fresh[j].Processes
			gained = append(gained, i)
		}
	}
	for k := range snap.Raw {
		snap.Raw[k].Processes = fresh[len(at)+k].Processes
	}
	// Every holder, old and new: the processes of the sockets kept are
	// the ones memory last found, the same pointers. A few hundred
	// processes hold 100k sockets: a small table by PID answers "seen"
	// for most before the map is asked.
	held := make(map[int]*Process, len(found))
	var seen [1024]*Process
	for i := range snap.Sockets {
		for _, p := range snap.Sockets[i].Processes {
			if slot := &seen[p.PID%len(seen)]; *slot != p {
				held[p.PID], *slot = p, p
			}
		}
	}
	for k := range snap.Raw {
		for _, p := range snap.Raw[k].Processes {
			held[p.PID] = p
		}
	}
	c.settle(snap, held, slices.Clone(mem.unreadable), vanished)
	readHeldFilters(c.procRoot, snap.Raw)
	return gained, true
}

// pidList renders up to limit PIDs as "pid 1, 2, 3 and 4 more".
func pidList(pids []int, limit int) string {
	s := "pid"
	for i, p := range pids {
		if i == limit {
			return fmt.Sprintf("%s and %d more", s, len(pids)-limit)
		}
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %d", p)
	}
	return s
}
