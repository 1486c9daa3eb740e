package sockets

import (
	"os"
	"slices"
	"time"

	"github.com/portwarden/portwarden/sockets/sockfiles"
)

// ownerMemory is what the last walks found.
type ownerMemory struct {
	byInode    map[uint64][]int32 // holders of each socket; empty when none was found
	walked     map[int32]bool     // processes whose fds are known
	holds      map[int32]bool     // processes found holding a socket
	unreadable []int              // processes whose fds could not be read
	lastFull   time.Time
}

// walkAll reads every process's fds and remembers the result.
func (c *LinuxCollector) walkAll(pids []int32, socks []Socket, want map[uint64]int32) walkResult {
	walk, ok := c.scanAll(want)
	if !ok {
		walk = walkOwners(c.procRoot, pids, inMap(want))
	}
	mem := &ownerMemory{
		byInode:    make(map[uint64][]int32, len(want)),
		walked:     make(map[int32]bool, len(pids)),
		holds:      make(map[int32]bool),
		unreadable: walk.unreadable,
		lastFull:   time.Now(),
	}
	for ino := range want {
		mem.byInode[ino] = nil // known: holders, if any, are added below
	}
	for _, h := range walk.hits {
		ino := socks[h.socket].Inode
		mem.byInode[ino] = append(mem.byInode[ino], h.pid)
		mem.holds[h.pid] = true
	}
	for _, pid := range pids {
		mem.walked[pid] = true
	}
	c.owners = mem
	return walk
}

// scanAll finds the holders of the sockets in want with the kernel's
// task-file iterator where it can be loaded (root, BTF, /proc being the
// host's): one pass in the kernel instead of a readlink per fd. ok is
// false where it cannot; the walk of /proc/*/fd does the work then.
func (c *LinuxCollector) scanAll(want map[uint64]int32) (walk walkResult, ok bool) {
	if c.procRoot != "/proc" || os.Geteuid() != 0 || c.scanErr != nil {
		return walk, false
	}
	if c.scanner == nil {
		if c.scanner, c.scanErr = sockfiles.Open(); c.scanErr != nil {
			return walk, false
		}
	}
	err := c.scanner.Scan(func(pid int32, inode uint64) {
		if idx, ok := want[inode]; ok {
			walk.hits = append(walk.hits, ownerHit{socket: idx, pid: pid})
		}
	})
	return walk, err == nil
}

// walkNew reads only the fds of processes not walked before; every socket
// is already known, so the other holders come from memory.
func (c *LinuxCollector) walkNew(pids []int32, socks []Socket, want map[uint64]int32) walkResult {
	mem := c.owners
	var fresh []int32
	listed := make(map[int32]bool, len(pids))
	for _, pid := range pids {
		listed[pid] = true
		if !mem.walked[pid] {
			fresh = append(fresh, pid)
		}
	}
	mem.forgetExited(listed)
	walk := walkOwners(c.procRoot, fresh, inMap(want))
	for _, h := range walk.hits {
		mem.add(socks[h.socket].Inode, h.pid)
	}
	for _, pid := range fresh {
		mem.walked[pid] = true
	}
	mem.unreadable = append(mem.unreadable, walk.unreadable...)
	all := walkResult{vanished: walk.vanished, unreadable: slices.Clone(mem.unreadable)}
	for i := range socks {
		for _, pid := range mem.byInode[socks[i].Inode] {
			if mem.walked[pid] {
				all.hits = append(all.hits, ownerHit{socket: int32(i), pid: pid})
			}
		}
	}
	return all
}

// inodes is the holders of every socket known, by inode; nil for no memory.
func (m *ownerMemory) inodes() map[uint64][]int32 {
	if m == nil {
		return nil
	}
	return m.byInode
}

// add remembers that pid holds the socket inode.
func (m *ownerMemory) add(inode uint64, pid int32) {
	if !slices.Contains(m.byInode[inode], pid) {
		m.byInode[inode] = append(m.byInode[inode], pid)
	}
	m.holds[pid] = true
}

// forgetExited forgets the processes no longer listed.
func (m *ownerMemory) forgetExited(listed map[int32]bool) {
	for pid := range m.walked {
		if !listed[pid] {
			delete(m.walked, pid)
			delete(m.holds, pid)
		}
	}
}

// walkHinted looks for sockets not seen before (unknown: inode → index)
// in the fds of the processes the kernel named (hints) only. It reports
// whether that found every one, which spares a walk of every process.
func (c *LinuxCollector) walkHinted(hints []int32, socks []Socket, unknown map[uint64]int32) bool {
	if len(hints) == 0 {
		return false
	}
	slices.Sort(hints)
	walk := walkOwners(c.procRoot, slices.Compact(hints), inMap(unknown))
	if len(walk.unreadable) > 0 {
		return false
	}
	mem := c.owners
	for _, h := range walk.hits {
		mem.add(socks[h.socket].Inode, h.pid)
	}
	for ino := range unknown {
		if _, ok := mem.byInode[ino]; !ok {
			return false
		}
	}
	return true
}

// ownersUnchanged reports whether the owners the last collection found
// still hold, reading no more than new processes' fds: no process that
// held a socket has exited, and no new one holds a known socket. New
// processes that hold none are remembered as read.
func (c *LinuxCollector) ownersUnchanged(pids []int32) bool {
	mem := c.owners
	if mem == nil || time.Since(mem.lastFull) >= c.ownerTrust {
		return false
	}
	listed := make(map[int32]bool, len(pids))
	var fresh []int32
	for _, pid := range pids {
		listed[pid] = true
		if !mem.walked[pid] {
			fresh = append(fresh, pid)
		}
	}
	for pid := range mem.holds {
		if !listed[pid] {
			return false
		}
	}
	mem.forgetExited(listed)
	if len(fresh) == 0 {
		return true
	}
	walk := walkOwners(c.procRoot, fresh, func(inode uint64) (int32, bool) {
		_, ok := mem.byInode[inode]
		return 0, ok
	})
	if len(walk.hits) > 0 || len(walk.unreadable) > 0 {
		return false
	}
	for _, pid := range fresh {
		mem.walked[pid] = true
	}
	return true
}
