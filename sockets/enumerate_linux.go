package sockets

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/safetext"
)

// enumeration is what one collection's enumeration has seen so far.
type enumeration struct {
	malformed            map[string]int
	usedProc, usedNetlnk bool
	raw                  []RawSocket // packet and raw sockets, every namespace's
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
	socks := prefault(make([]Socket, 0, size+size/8+64))
	e := &enumeration{malformed: map[string]int{}}
	for _, t := range d.targets {
		if !q.NetNS.matches(&t.Namespace, d.self) {
			continue
		}
		before, rawBefore := len(socks), len(e.raw)
		var err error
		socks, err = c.enumerateIn(q, snap, t, socks, e)
		switch {
		case err == nil:
			t.Entered = true
		case t.self:
			return nil, err
		default:
			socks, e.raw = socks[:before], e.raw[:rawBefore]
			snap.Complete = false
			snap.Warnings = append(snap.Warnings, fmt.Sprintf("could not read network namespace %s (%s): %v",
				t.Label(), safetext.Count(t.Processes, "process", "processes"), err))
		}
		for i := before; i < len(socks); i++ {
			socks[i].NetNS = t.Inode
		}
		t.Namespace.Path = t.path
		snap.Namespaces = append(snap.Namespaces, t.Namespace)
	}
	if len(snap.Namespaces) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoNamespace, q.NetNS)
	}
	snap.Raw = e.raw
	d.warn(snap)
	c.unreadable = d.unreadable
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

// warn says, in snap, how many processes' namespaces could not be seen.
func (d nsDiscovery) warn(snap *Snapshot) {
	if d.unreadable > 0 {
		snap.Complete = false
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("could not see the network namespace of %s; their namespaces' sockets may be missing",
			safetext.Count(d.unreadable, "process", "processes")))
	}
}

// enumerateIn lists the sockets of every wanted table in one namespace:
// through a sock_diag socket made there, falling back per table to the
// namespace's /proc/PID/net files.
func (c *LinuxCollector) enumerateIn(q Query, snap *Snapshot, ns nsTarget, socks []Socket, e *enumeration) ([]Socket, error) {
	where := ns.where()
	procNet := ns.procNet(c.procRoot)
	var nl *netlinkDumper
	if c.method != ProcFS {
		d, err := ns.dumper()
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
	bothTCP := false // both TCP tables read in one dump
	if nl != nil && !counts.ok && tables[0].wanted(q) && tables[1].wanted(q) {
		before := len(socks)
		var bad int
		var err error
		socks, bad, err = nl.dumpTCP(tables[0].stateMask(q), socks)
		if err == nil {
			bothTCP, usedNetlink = true, true
			malformed["netlink tcp+tcp6"] += bad
		} else {
			socks = socks[:before] // each table on its own, below
		}
	}
	for _, t := range tables {
		if !t.wanted(q) || (bothTCP && t.proto == TCP) {
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
	if q.wantsRaw() {
		var err error
		e.raw, err = readRawIn(q, ns, nl, procNet, e.raw, e, func(w string) {
			if !slices.Contains(snap.Warnings, w) { // one for every namespace it is true of
				snap.Warnings = append(snap.Warnings, w)
			}
		})
		if err != nil {
			return socks, err
		}
	}
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

// prefault has the kernel back a fresh slice's spare capacity with
// writable pages at once (MADV_POPULATE_WRITE, Linux 5.14; elsewhere it
// does nothing). Allocating 100k sockets starts a garbage collection,
// which reads the whole slice before the parser fills it: each page read
// first is mapped to the kernel's shared zero page, and the parser's
// first write to it then copies the page and flushes the TLB of every CPU
// running the process, an interprocessor interrupt per page (perf: ~4,000
// such faults, ~50 ms of CPU in a 100k-socket snapshot).
func prefault(socks []Socket) []Socket {
	spare := socks[len(socks):cap(socks)]
	if len(spare) == 0 {
		return socks
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&spare[0])), len(spare)*int(unsafe.Sizeof(spare[0])))
	// madvise takes whole pages: the ones wholly inside the slice.
	page := os.Getpagesize()
	if skip := (page - int(uintptr(unsafe.Pointer(&b[0])))%page) % page; skip < len(b) {
		b = b[skip:]
		unix.Madvise(b[:len(b)/page*page], unix.MADV_POPULATE_WRITE) // an optimisation: its error changes nothing
	}
	return socks
}
