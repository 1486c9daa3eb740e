package sockets

import (
	"fmt"
	"slices"
	"time"

	"github.com/portwarden/portwarden/sockets/sockfiles"
)

// Method selects how a LinuxCollector enumerates sockets.
type Method int

// Enumeration methods.
const (
	// Auto uses netlink sock_diag and falls back to /proc/net per table
	// when the kernel does not offer it (e.g. no udp_diag module).
	Auto Method = iota
	// Netlink uses only netlink sock_diag.
	Netlink
	// ProcFS parses /proc/net/{tcp,tcp6,udp,udp6} only.
	ProcFS
)

// fullWalkEvery bounds how long a LinuxCollector trusts remembered owners.
// Between full walks it reads only new processes' fds, which misses one
// case: an existing process receiving or dropping a copy of an existing
// socket (SCM_RIGHTS, close after fork). A full walk repairs that.
const fullWalkEvery = 10 * time.Second

// LinuxCollector enumerates sockets with netlink sock_diag (or /proc/net)
// and finds their owners with one walk of /proc/*/fd. Across collections it
// remembers who holds which socket, so that when no socket is new it reads
// only the fds of processes that are new, not of every process.
type LinuxCollector struct {
	procRoot string
	method   Method
	procs    *processCache
	owners   *ownerMemory
	// ownerTrust is how long remembered owners are trusted before a
	// full walk: fullWalkEvery, or an IncrementalCollector's resync
	// period, as the kernel names the processes of new sockets there.
	ownerTrust time.Duration
	// scanner lists every process's sockets in one pass where the kernel
	// allows (see startScan); scanErr says why it does not.
	scanner  *sockfiles.Scanner
	scanErr  error
	scanFrom int            // how many sockets make the iterator worth loading: scanAbove
	scan     <-chan scanned // the scan started for this collection, if any
	// unreadable counts the processes whose namespace the last
	// collection could not see.
	unreadable int
	lastSize   int // sockets seen last time: sizes the next slice up front
	// rawRead are the raw sockets of the last collection as the kernel
	// listed them, before owners and borrowed filters were added.
	rawRead []RawSocket
}

// NewCollector returns the collector for this operating system.
func NewCollector() Collector { return NewLinuxCollector("/proc", Auto) }

// NewLinuxCollector returns a collector reading procRoot (normally "/proc")
// and enumerating sockets by method.
func NewLinuxCollector(procRoot string, method Method) *LinuxCollector {
	return &LinuxCollector{procRoot: procRoot, method: method, procs: newProcessCache(procRoot), ownerTrust: fullWalkEvery,
		scanFrom: scanAbove}
}

// table is one kernel socket table.
type table struct {
	proto    Proto
	family   uint8
	protocol uint8
	procFile string
}

var tables = [...]table{
	{TCP, afInet, ipprotoTCP, "tcp"},
	{TCP, afInet6, ipprotoTCP, "tcp6"},
	{UDP, afInet, ipprotoUDP, "udp"},
	{UDP, afInet6, ipprotoUDP, "udp6"},
}

func (t table) wanted(q Query) bool {
	if (t.proto == TCP && !q.wantsTCP()) || (t.proto == UDP && !q.wantsUDP()) {
		return false
	}
	return (t.family == afInet && q.wants4()) || (t.family == afInet6 && q.wants6())
}

// stateMask is the sock_diag bit set of the states a query wants.
func (t table) stateMask(q Query) uint32 {
	if !q.ListeningOnly {
		return ^uint32(0)
	}
	if t.proto == UDP {
		return 1 << Close
	}
	return 1 << Listen
}

// Collect takes a snapshot of the sockets that q asks for, in every
// network namespace q picks.
func (c *LinuxCollector) Collect(q Query) (*Snapshot, error) {
	snap := &Snapshot{Time: time.Now(), Complete: true}
	pids, err := listPIDs(c.procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	if q.Fresh {
		c.owners = nil // every owner is read again
	}
	if c.owners == nil || time.Since(c.owners.lastFull) >= c.ownerTrust {
		c.scan = c.startScan() // every owner will be read: start now
	}
	socks, err := c.enumerate(q, snap, discoverNamespaces(c.procRoot, pids))
	if err != nil {
		if c.scan != nil {
			<-c.scan
			c.scan = nil
		}
		return nil, err
	}
	snap.Sockets = socks
	c.lastSize = len(socks)
	c.attribute(snap, pids, nil)
	return snap, nil
}

// attribute finds the processes holding each socket with one walk of
// /proc/*/fd (socket inodes are unique across namespaces), then reads each
// distinct owner's details once. hints are processes the kernel named in
// its changes since the last collection (connect, listen, accept): new
// sockets are looked for in their fds before every process's.
//
// Raw sockets are found by the same walk: their inodes follow the
// snapshot's sockets in the slice walked (in the same backing array when
// it has room), and their owners are copied back after.
func (c *LinuxCollector) attribute(snap *Snapshot, pids, hints []int32) {
	socks, n := snap.Sockets, len(snap.Sockets)
	c.rawRead = slices.Clone(snap.Raw)
	if len(snap.Raw) > 0 {
		socks = slices.Grow(socks, len(snap.Raw))
		for _, r := range snap.Raw {
			socks = append(socks, Socket{Inode: r.Inode, NetNS: r.NetNS})
		}
		snap.Sockets = socks[:n:n] // an append to it never writes over them
	}
	walk, scanned := c.scannedHolders(socks, pids)
	if !scanned {
		walk = c.findHolders(socks, pids, hints)
	}
	c.resolve(snap, socks, walk)
	for i := range snap.Raw {
		snap.Raw[i].Processes = socks[n+i].Processes
	}
	readHeldFilters(c.procRoot, snap.Raw)
}

// findHolders finds the holders of socks in /proc/*/fd: the fds of new
// processes (and of those hints names) while the remembered owners are
// recent, every process's otherwise.
func (c *LinuxCollector) findHolders(socks []Socket, pids, hints []int32) walkResult {
	recent := c.owners != nil && time.Since(c.owners.lastFull) < c.ownerTrust
	if recent {
		var unknown map[uint64]int32
		for i := range socks {
			if ino := socks[i].Inode; ino != 0 && !c.owners.knows(ino) {
				if unknown == nil {
					unknown = map[uint64]int32{}
				}
				unknown[ino] = int32(i)
			}
		}
		if len(unknown) == 0 || c.walkHinted(hints, socks, unknown) {
			return c.walkNew(pids, socks)
		}
	}
	// Every owner is read again: by the kernel's task-file iterator if
	// it was loaded (one pass, not a readlink per fd), else by the walk.
	if c.scanner != nil {
		c.scan = c.startScan()
		if walk, ok := c.scannedHolders(socks, pids); ok {
			return walk
		}
	}
	return c.walkAll(pids, socks, wantOf(socks))
}

// wantOf indexes socks by inode, for a walk to match fds against.
func wantOf(socks []Socket) map[uint64]int32 {
	want := make(map[uint64]int32, len(socks))
	for i := range socks {
		if ino := socks[i].Inode; ino != 0 {
			want[ino] = int32(i)
		}
	}
	return want
}
