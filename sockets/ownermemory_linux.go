package sockets

import (
	"os"
	"slices"
	"sync"
	"time"

	"github.com/portwarden/portwarden/sockets/sockfiles"
)

// ownerMemory is what the last walks found.
type ownerMemory struct {
	// byInode is the holder of each socket known: a PID, noHolder when
	// none was found, or severalHolders (then shared lists them). Most
	// sockets have one holder: no slice each for 100k of them.
	byInode    map[uint64]int32
	shared     map[uint64][]int32
	walked     map[int32]bool // processes whose fds are known
	holds      map[int32]bool // processes found holding a socket
	unreadable []int          // processes whose fds could not be read
	lastFull   time.Time
	// newest are the processes ownersUnchanged read first, last time:
	// where a socket new since is likely held.
	newest []int32
}

// walkAll reads every process's fds and remembers the result.
func (c *LinuxCollector) walkAll(pids []int32, socks []Socket, want map[uint64]int32) walkResult {
	walk := walkOwners(c.procRoot, pids, inMap(want))
	mem := &ownerMemory{
		byInode:    make(map[uint64]int32, len(want)),
		shared:     map[uint64][]int32{},
		walked:     make(map[int32]bool, len(pids)),
		holds:      make(map[int32]bool),
		unreadable: walk.unreadable,
		lastFull:   time.Now(),
	}
	for ino := range want {
		mem.byInode[ino] = noHolder // known: holders, if any, are added below
	}
	for _, h := range walk.hits {
		mem.add(socks[h.socket].Inode, h.pid)
	}
	for _, pid := range pids {
		mem.walked[pid] = true
	}
	c.owners = mem
	return walk
}

// scanAbove is how many sockets make the task-file iterator worth loading:
// loading it costs about 26 ms and 16 MB (the kernel's BTF, for its
// relocations), which the walk of /proc/*/fd costs at some 40,000
// sockets on the 2-core machine this was measured on.
const scanAbove = 40000

// socketsInUse is the count of sockets the last collection saw or, before
// the first, the kernel's count in this namespace.
func (c *LinuxCollector) socketsInUse() int {
	if c.lastSize > 0 {
		return c.lastSize
	}
	st := readSockstat(c.procRoot + "/thread-self/net")
	n := st.tw
	for _, v := range st.inuse {
		n += v
	}
	return n
}

// scanned is what one run of the iterator found: the holders of every
// socket on the system, as an owner memory not yet tied to a snapshot.
type scanned struct {
	mem *ownerMemory
	err error
}

// startScan runs the kernel's task-file iterator in the background where
// it can be loaded (root, BTF, /proc being the host's): one pass in the
// kernel instead of a readlink per fd, beside the netlink dump, which
// also indexes what it finds and reads the holders' details there. It
// returns nil where it cannot; the walk of /proc/*/fd does the work then.
func (c *LinuxCollector) startScan() <-chan scanned {
	if c.procRoot != "/proc" || os.Geteuid() != 0 || c.scanErr != nil {
		return nil
	}
	if c.scanner == nil && c.socketsInUse() < c.scanFrom {
		return nil // the walk costs less than loading the program
	}
	if c.scanner == nil {
		if c.scanner, c.scanErr = sockfiles.Open(); c.scanErr != nil {
			return nil
		}
	}
	out := make(chan scanned, 1)
	// The goroutine touches only what it is given here: the collector
	// reads no process until it has received the scan.
	scanner, procs, size := c.scanner, c.procs, c.socketsInUse()
	go func() {
		mem := &ownerMemory{byInode: make(map[uint64]int32, size+size/4),
			shared: map[uint64][]int32{}, holds: map[int32]bool{}}
		err := scanner.Scan(func(pid int32, inode uint64) { mem.add(inode, pid) })
		if err == nil {
			for pid := range mem.holds {
				procs.lookup(int(pid)) // cached for attribute; a vanished one is found then
			}
		}
		out <- scanned{mem, err}
	}()
	return out
}

// scannedHolders takes the holders of socks from the scan started with
// this collection; ok is false when none was started or it failed.
func (c *LinuxCollector) scannedHolders(socks []Socket, pids []int32) (walk walkResult, ok bool) {
	if c.scan == nil {
		return walk, false
	}
	s := <-c.scan
	c.scan = nil
	if s.err != nil {
		return walk, false
	}
	mem := s.mem
	walk.hits = mem.holders(socks, nil)
	// The scan saw every socket, unix ones too: only holders of the
	// snapshot's count, or a process leaving its unix sockets behind
	// would read as an owner gone.
	mem.holds = make(map[int32]bool, len(mem.holds))
	for _, h := range walk.hits {
		mem.holds[h.pid] = true
	}
	mem.walked = make(map[int32]bool, len(pids))
	for _, pid := range pids {
		mem.walked[pid] = true
	}
	mem.lastFull = time.Now()
	c.owners = mem
	return walk, true
}

// walkNew reads only the fds of processes not walked before; every socket
// is already known, so the other holders come from memory.
func (c *LinuxCollector) walkNew(pids []int32, socks []Socket) walkResult {
	mem := c.owners
	listed, fresh := mem.split(pids)
	mem.forgetExited(listed)
	var walk walkResult
	if len(fresh) > 0 { // most refreshes start no process: no index to build
		walk = walkOwners(c.procRoot, fresh, inMap(wantOf(socks)))
	}
	for _, h := range walk.hits {
		mem.add(socks[h.socket].Inode, h.pid)
	}
	for _, pid := range fresh {
		mem.walked[pid] = true
	}
	mem.unreadable = append(mem.unreadable, walk.unreadable...)
	return walkResult{hits: mem.holders(socks, mem.walked), vanished: walk.vanished, unreadable: slices.Clone(mem.unreadable)}
}

// holders lists, socket by socket, the holders memory knows of socks,
// those in keep only (nil: all). An inode it never saw is remembered as
// held by none.
func (m *ownerMemory) holders(socks []Socket, keep map[int32]bool) []ownerHit {
	hits := make([]ownerHit, 0, len(socks))
	hit := func(i int, pid int32) {
		if keep == nil || keep[pid] {
			hits = append(hits, ownerHit{socket: int32(i), pid: pid})
		}
	}
	for i := range socks {
		ino := socks[i].Inode
		if ino == 0 {
			continue
		}
		switch pid, found := m.byInode[ino]; {
		case !found:
			m.byInode[ino] = noHolder
		case pid == noHolder:
		case pid == severalHolders:
			for _, pid := range m.shared[ino] {
				hit(i, pid)
			}
		default:
			hit(i, pid)
		}
	}
	return hits
}

// split marks pids as the processes listed, and returns those whose fds
// memory has not read.
func (m *ownerMemory) split(pids []int32) (listed map[int32]bool, fresh []int32) {
	listed = make(map[int32]bool, len(pids))
	for _, pid := range pids {
		listed[pid] = true
		if !m.walked[pid] {
			fresh = append(fresh, pid)
		}
	}
	return listed, fresh
}

// Markers in ownerMemory.byInode.
const (
	noHolder       int32 = 0
	severalHolders int32 = -1
)

// knows reports whether the socket inode was seen by the last walks.
func (m *ownerMemory) knows(inode uint64) bool {
	if m == nil {
		return false
	}
	_, ok := m.byInode[inode]
	return ok
}

// add remembers that pid holds the socket inode.
func (m *ownerMemory) add(inode uint64, pid int32) {
	m.holds[pid] = true
	switch first := m.byInode[inode]; first {
	case noHolder, pid:
		m.byInode[inode] = pid
	case severalHolders:
		if !slices.Contains(m.shared[inode], pid) {
			m.shared[inode] = append(m.shared[inode], pid)
		}
	default:
		m.byInode[inode] = severalHolders
		m.shared[inode] = []int32{first, pid}
	}
}

// drop forgets that pid holds the socket inode.
func (m *ownerMemory) drop(inode uint64, pid int32) {
	switch first := m.byInode[inode]; first {
	case pid:
		m.byInode[inode] = noHolder
	case severalHolders:
		m.shared[inode] = slices.DeleteFunc(m.shared[inode], func(p int32) bool { return p == pid })
	}
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
		if !mem.knows(ino) {
			return false
		}
	}
	return true
}

// ownerMoves is how the owners memory knows moved since the last look:
// holders that exited, and new processes holding known sockets (a fork).
type ownerMoves struct {
	exited map[int32]bool
	joined map[uint64]bool // socket inodes a new process holds too
}

func (m ownerMoves) none() bool { return len(m.exited) == 0 && len(m.joined) == 0 }

// ownerMoves brings the memory up to date with the processes listed now,
// reading no more than new processes' fds, and says what moved: holders
// that exited are forgotten, new processes holding known sockets added.
// ok is false when the memory is too old to trust or a new process's fds
// cannot be read: then every owner must be looked for.
func (c *LinuxCollector) ownerMoves(pids []int32) (moves ownerMoves, ok bool) {
	mem := c.owners
	if mem == nil || time.Since(mem.lastFull) >= c.ownerTrust {
		return moves, false
	}
	listed, fresh := mem.split(pids)
	for pid := range mem.holds {
		if !listed[pid] {
			if moves.exited == nil {
				moves.exited = map[int32]bool{}
			}
			moves.exited[pid] = true
		}
	}
	mem.forgetExited(listed)
	mem.newest = fresh
	if len(fresh) == 0 {
		return moves, true
	}
	var mu sync.Mutex
	var held []uint64 // the known inodes the hits name, by the hit's index
	walk := walkOwners(c.procRoot, fresh, func(inode uint64) (int32, bool) {
		if !mem.knows(inode) {
			return 0, false
		}
		mu.Lock()
		defer mu.Unlock()
		held = append(held, inode)
		return int32(len(held) - 1), true
	})
	if len(walk.unreadable) > 0 {
		return moves, false
	}
	for _, h := range walk.hits {
		if moves.joined == nil {
			moves.joined = map[uint64]bool{}
		}
		mem.add(held[h.socket], h.pid)
		moves.joined[held[h.socket]] = true
	}
	for _, pid := range fresh {
		mem.walked[pid] = true
	}
	return moves, true
}

// forgetMoved takes the owners off the sockets of snap that moves touch —
// those an exited process held, those a new one holds too — for
// attributeNew to give them again from memory, and returns their indexes.
// What an exited process held is forgotten, so that a process given its
// PID later is not taken for a holder.
func (c *LinuxCollector) forgetMoved(snap *Snapshot, moves ownerMoves) (touched []int32) {
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		hit := s.Inode != 0 && moves.joined[s.Inode]
		for _, p := range s.Processes {
			if moves.exited[int32(p.PID)] {
				c.owners.drop(s.Inode, int32(p.PID))
				hit = true
			}
		}
		if hit {
			s.Processes = nil
			touched = append(touched, int32(i))
		}
	}
	return touched
}
