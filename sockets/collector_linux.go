package sockets

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/safetext"
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
	lastSize int // sockets seen last time: sizes the next slice up front
}

// ownerMemory is what the last walks found.
type ownerMemory struct {
	byInode    map[uint64][]int32 // holders of each socket; empty when none was found
	walked     map[int32]bool     // processes whose fds are known
	unreadable []int              // processes whose fds could not be read
	lastFull   time.Time
}

// NewCollector returns the collector for this operating system.
func NewCollector() Collector { return NewLinuxCollector("/proc", Auto) }

// NewLinuxCollector returns a collector reading procRoot (normally "/proc")
// and enumerating sockets by method.
func NewLinuxCollector(procRoot string, method Method) *LinuxCollector {
	return &LinuxCollector{procRoot: procRoot, method: method, procs: newProcessCache(procRoot)}
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
	socks, err := c.enumerate(q, snap, discoverNamespaces(c.procRoot, pids))
	if err != nil {
		return nil, err
	}
	snap.Sockets = socks
	c.lastSize = len(socks)
	c.attribute(snap, pids)
	return snap, nil
}

// enumeration is what one collection's enumeration has seen so far.
type enumeration struct {
	malformed            map[string]int
	usedProc, usedNetlnk bool
}

// enumerate lists the sockets of every wanted table in every picked
// namespace. The namespace portwarden runs in must be readable; another
// that cannot be entered becomes a warning, and the snapshot incomplete.
func (c *LinuxCollector) enumerate(q Query, snap *Snapshot, d nsDiscovery) ([]Socket, error) {
	size := c.lastSize
	if size == 0 {
		// A first collection sizes its slice from the kernel's counts,
		// rather than growing it by doubling through 100k sockets.
		if st := readSockstat(c.procRoot + "/thread-self/net"); st.ok {
			size = st.tw
			for _, n := range st.inuse {
				size += n
			}
		}
	}
	socks := make([]Socket, 0, size+size/8+64)
	e := &enumeration{malformed: map[string]int{}}
	for _, t := range d.targets {
		if !q.NetNS.matches(&t.Namespace, d.self) {
			continue
		}
		before := len(socks)
		var err error
		socks, err = c.enumerateIn(q, snap, t, socks, e)
		switch {
		case err == nil:
			t.Entered = true
		case t.self:
			return nil, err
		default:
			socks = socks[:before]
			snap.Complete = false
			snap.Warnings = append(snap.Warnings, fmt.Sprintf("could not read network namespace %s (%s): %v",
				t.Label(), safetext.Count(t.Processes, "process", "processes"), err))
		}
		for i := before; i < len(socks); i++ {
			socks[i].NetNS = t.Inode
		}
		snap.Namespaces = append(snap.Namespaces, t.Namespace)
	}
	if len(snap.Namespaces) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoNamespace, q.NetNS)
	}
	if d.unreadable > 0 {
		snap.Complete = false
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("could not see the network namespace of %s; their namespaces' sockets may be missing",
			safetext.Count(d.unreadable, "process", "processes")))
	}
	for src, n := range e.malformed {
		if n > 0 {
			snap.Warnings = append(snap.Warnings, fmt.Sprintf("skipped %d malformed entries in %s", n, src))
		}
	}
	switch {
	case e.usedNetlnk && e.usedProc:
		snap.Source = "netlink+procfs"
	case e.usedProc:
		snap.Source = "procfs"
	default:
		snap.Source = "netlink"
	}
	return socks, nil
}

// enumerateIn lists the sockets of every wanted table in one namespace:
// through a sock_diag socket made there, falling back per table to the
// namespace's /proc/PID/net files.
func (c *LinuxCollector) enumerateIn(q Query, snap *Snapshot, ns nsTarget, socks []Socket, e *enumeration) ([]Socket, error) {
	where := ""
	if !ns.self {
		where = " in network namespace " + ns.Label()
	}
	procNet := c.procRoot + "/thread-self/net"
	if !ns.self {
		procNet = ""
		if ns.pid > 0 {
			procNet = c.procRoot + "/" + strconv.Itoa(ns.pid) + "/net"
		}
	}
	var nl *netlinkDumper
	if c.method != ProcFS {
		var d *netlinkDumper
		var err error
		if ns.self {
			d, err = newNetlinkDumper()
		} else {
			d, err = newNetlinkDumperIn(ns.path)
		}
		switch {
		case err != nil && (c.method == Netlink || procNet == ""):
			return socks, err
		case err != nil:
			snap.Warnings = append(snap.Warnings, fmt.Sprintf("netlink unavailable%s, reading %s: %v", where, procNet, err))
		default:
			nl = d
			defer nl.close()
		}
	}
	if nl == nil && procNet == "" {
		return socks, errors.New("no process lives in it to read /proc/PID/net from")
	}
	// Another namespace's counts spare dumps: each dump walks the kernel's
	// hash of every namespace's sockets, which costs the same however few
	// this namespace holds.
	var counts sockstat
	if !ns.self && procNet != "" {
		counts = readSockstat(procNet)
	}
	malformed, usedProc, usedNetlink := e.malformed, false, false
	for _, t := range tables {
		if !t.wanted(q) {
			continue
		}
		if counts.ok && nl != nil {
			n := counts.inuse[t.statKey()]
			if n == 0 && (t.proto == UDP || counts.tw == 0) {
				usedNetlink = true
				continue // nothing there
			}
			if t.proto == TCP && counts.tw == 0 && t.stateMask(q) != 1<<Listen {
				// Listeners come from the small listening hash; when they
				// are every socket in use, the full walk would add nothing.
				before := len(socks)
				var bad int
				var err error
				socks, bad, err = nl.dump(t.family, t.protocol, t.proto, 1<<Listen, socks)
				if err == nil && bad == 0 && len(socks)-before == n {
					usedNetlink = true
					continue
				}
				socks = socks[:before]
			}
		}
		if nl != nil {
			var bad int
			var err error
			before := len(socks)
			socks, bad, err = nl.dump(t.family, t.protocol, t.proto, t.stateMask(q), socks)
			malformed["netlink "+t.procFile] += bad
			if err == nil {
				usedNetlink = true
				continue
			}
			if c.method == Netlink || procNet == "" {
				return socks, fmt.Errorf("%s%s: %w", t.procFile, where, err)
			}
			socks = socks[:before]
			snap.Warnings = append(snap.Warnings, fmt.Sprintf("%s%s: netlink failed (%v), read %s/%s instead", t.procFile, where, err, procNet, t.procFile))
		}
		var bad int
		var err error
		socks, bad, err = c.readProcNet(procNet, t, q, socks)
		if err != nil {
			return socks, err
		}
		usedProc = true
		malformed[procNet+"/"+t.procFile] += bad
	}
	e.usedProc = e.usedProc || usedProc
	e.usedNetlnk = e.usedNetlnk || usedNetlink
	return socks, nil
}

// readProcNet parses one table from dir, a namespace's /proc/PID/net (for
// portwarden's own, /proc/thread-self/net: the calling thread's namespace,
// where /proc/net is the main thread's).
func (c *LinuxCollector) readProcNet(dir string, t table, q Query, socks []Socket) ([]Socket, int, error) {
	path := dir + "/" + t.procFile
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && dir == c.procRoot+"/thread-self/net" {
		path = c.procRoot + "/net/" + t.procFile // kernels before 3.17, fixtures
		f, err = os.Open(path)
	}
	if errors.Is(err, os.ErrNotExist) {
		return socks, 0, nil // IPv6 disabled, or the protocol compiled out
	}
	if err != nil {
		return socks, 0, fmt.Errorf("open socket table: %w", err)
	}
	defer f.Close()
	before := len(socks)
	socks, bad, err := parseProcNet(f, t.proto, t.family == afInet6, socks)
	if err != nil {
		return socks, bad, fmt.Errorf("%s: %w", path, err)
	}
	if mask := t.stateMask(q); mask != ^uint32(0) {
		kept := slices.DeleteFunc(socks[before:], func(s Socket) bool { return mask&(1<<s.State) == 0 })
		socks = socks[:before+len(kept)]
	}
	return socks, bad, nil
}

// attribute finds the processes holding each socket with one walk of
// /proc/*/fd (socket inodes are unique across namespaces), then reads each
// distinct owner's details once.
func (c *LinuxCollector) attribute(snap *Snapshot, pids []int32) {
	socks := snap.Sockets
	want := make(map[uint64]int32, len(socks))
	known := c.owners != nil && time.Since(c.owners.lastFull) < fullWalkEvery
	for i := range socks {
		if ino := socks[i].Inode; ino != 0 {
			want[ino] = int32(i)
			if known {
				_, known = c.owners.byInode[ino]
			}
		}
	}
	var walk walkResult
	if known {
		walk = c.walkNew(pids, socks, want)
	} else {
		walk = c.walkAll(pids, socks, want)
	}
	// Most sockets have one owner: they share that owner's one-element
	// slice. Sockets held by several processes get their own slice.
	single := make(map[int]*Process)
	alone := make(map[int][]*Process)
	vanished := walk.vanished
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
	live := make(map[int]*Process, len(single))
	for pid, p := range single {
		if p != nil {
			live[pid] = p
		} else {
			delete(c.owners.walked, int32(pid)) // gone: forget what it held
		}
	}
	c.procs.prune(live)

	if len(walk.unreadable) > 0 {
		snap.Complete = false
		slices.Sort(walk.unreadable)
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("could not read the open files of %s (%s); their sockets show no owner",
			safetext.Count(len(walk.unreadable), "process", "processes"), pidList(walk.unreadable, 5)))
	}
	if vanished > 0 {
		snap.Warnings = append(snap.Warnings, safetext.Count(vanished, "process", "processes")+" exited while being read")
	}
}

// walkAll reads every process's fds and remembers the result.
func (c *LinuxCollector) walkAll(pids []int32, socks []Socket, want map[uint64]int32) walkResult {
	walk := walkOwners(c.procRoot, pids, want)
	mem := &ownerMemory{
		byInode:    make(map[uint64][]int32, len(want)),
		walked:     make(map[int32]bool, len(pids)),
		unreadable: walk.unreadable,
		lastFull:   time.Now(),
	}
	for ino := range want {
		mem.byInode[ino] = nil // known: holders, if any, are added below
	}
	for _, h := range walk.hits {
		ino := socks[h.socket].Inode
		mem.byInode[ino] = append(mem.byInode[ino], h.pid)
	}
	for _, pid := range pids {
		mem.walked[pid] = true
	}
	c.owners = mem
	return walk
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
	for pid := range mem.walked {
		if !listed[pid] {
			delete(mem.walked, pid)
		}
	}
	walk := walkOwners(c.procRoot, fresh, want)
	for _, h := range walk.hits {
		ino := socks[h.socket].Inode
		if !slices.Contains(mem.byInode[ino], h.pid) {
			mem.byInode[ino] = append(mem.byInode[ino], h.pid)
		}
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

// sockstat is a namespace's socket counts, from its /proc/PID/net/sockstat
// and sockstat6: free to read, where a dump walks a whole kernel hash.
type sockstat struct {
	inuse map[string]int // "TCP", "UDP", "TCP6", "UDP6": sockets in use
	tw    int            // TCP sockets in TIME_WAIT, both families
	ok    bool
}

// statKey is the table's name in sockstat: "TCP", "TCP6", "UDP", "UDP6".
func (t table) statKey() string { return strings.ToUpper(t.procFile) }

// readSockstat reads "TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1" lines;
// ok is false unless both files parse.
func readSockstat(dir string) sockstat {
	st := sockstat{inuse: map[string]int{}}
	for _, name := range []string{"sockstat", "sockstat6"} {
		b, err := readLimited(dir+"/"+name, 8<<10)
		if err != nil {
			return sockstat{}
		}
		for line := range strings.Lines(string(b)) {
			key, rest, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			for i := 0; i+1 < len(f); i += 2 {
				n, err := strconv.Atoi(f[i+1])
				if err != nil {
					continue
				}
				switch f[i] {
				case "inuse":
					st.inuse[key] = n
				case "tw":
					if key == "TCP" {
						st.tw = n
					}
				}
			}
		}
	}
	_, tcp := st.inuse["TCP"]
	_, tcp6 := st.inuse["TCP6"]
	st.ok = tcp && tcp6
	return st
}
