package sockets

// What an IncrementalCollector reads on each refresh besides its table:
// the kernel's changes, and the listeners, UDP and raw sockets it reads
// afresh every time.

// catchUp brings the table up to date with the kernel's changes, as a
// refresh does, where it can; the snapshot made is not handed out.
func (c *IncrementalCollector) catchUp() {
	if changes, lost, err := c.readChanges(); err == nil && !lost {
		c.refresh(changes)
	}
}

// readChanges reads the kernel's changes since the last refresh: those
// read ahead first (readAhead), then the feed's.
func (c *IncrementalCollector) readChanges() (changes []TCPChange, lost bool, err error) {
	changes, lost, err = c.feed.Changes(append(c.changes[:0], c.ahead...))
	lost = lost || c.aheadLost
	c.changes, c.ahead, c.aheadLost = changes[:0], c.ahead[:0], false
	return changes, lost, err
}

// readAhead reads the changes the kernel told since this refresh read
// its own, and returns the processes they name: a socket the dumps found
// may be newer than the changes read, as a listener that came between
// the two. The changes are kept for the next refresh; counters that moved
// are not — that refresh reads those connections again instead.
func (c *IncrementalCollector) readAhead() []int32 {
	more, lost, err := c.feed.Changes(nil)
	if err != nil || lost {
		c.aheadLost = true // the next refresh reads everything
		return nil
	}
	var pids []int32
	for _, ch := range more {
		if ch.PID > 0 {
			pids = append(pids, int32(ch.PID))
		}
		if ch.Moved {
			c.quieting[ch.Cookie] = true
			continue
		}
		c.ahead = append(c.ahead, ch)
	}
	return pids
}

// keepOwners gives each socket of live the owners of the same socket in
// was, which the same processes still hold.
func keepOwners(live, was []Socket) {
	held := make(map[uint64]*Socket, len(was))
	for i := range was {
		if was[i].Inode != 0 {
			held[was[i].Inode] = &was[i]
		}
	}
	for i := range live {
		if w := held[live[i].Inode]; w != nil && w.same(&live[i]) {
			live[i].Processes = w.Processes
		}
	}
}

// sameNamespaces reports whether targets are the namespaces the table
// holds, each with a sock_diag socket open in it (opened here if needed).
func (c *IncrementalCollector) sameNamespaces(targets []nsTarget) bool {
	if len(targets) != len(c.last.Namespaces) {
		return false
	}
	for i, t := range targets {
		if c.last.Namespaces[i].Inode != t.Inode || !c.last.Namespaces[i].Entered {
			return false
		}
		if c.dumpers[t.Inode] != nil {
			continue
		}
		d, err := t.dumper()
		if err != nil {
			return false
		}
		c.dumpers[t.Inode] = d
	}
	return true
}

// readLive appends the listeners and UDP sockets of namespace t.
func (c *IncrementalCollector) readLive(t nsTarget, live []Socket) ([]Socket, bool) {
	nl := c.dumpers[t.Inode]
	// Another namespace's counts spare dumps, as in a full collection: a
	// dump walks the kernel's hash of every namespace's sockets.
	var counts sockstat
	if dir := t.procNet(c.full.procRoot); !t.self && dir != "" {
		counts = readSockstat(dir)
	}
	for _, tb := range tables {
		if !tb.wanted(c.q) || (counts.ok && counts.inuse[tb.statKey()] == 0) {
			continue
		}
		states := ^uint32(0)
		if tb.proto == TCP {
			states = 1 << Listen
		}
		before := len(live)
		var bad int
		var err error
		live, bad, err = nl.dump(tb.family, tb.protocol, tb.proto, states, live)
		if err != nil || bad > 0 {
			return live, false
		}
		for i := before; i < len(live); i++ {
			live[i].NetNS = t.Inode
		}
	}
	return live, true
}

// readRaw appends the packet and raw sockets of namespace t, as a full
// collection reads them (its warnings stand for the fallbacks to
// /proc/net made here again); ok is false when they could not be read.
func (c *IncrementalCollector) readRaw(t nsTarget, out []RawSocket) ([]RawSocket, bool) {
	e := &enumeration{malformed: map[string]int{}}
	out, err := readRawIn(c.q, t, c.dumpers[t.Inode], t.procNet(c.full.procRoot), out, e, func(string) {})
	bad := 0
	for _, n := range e.malformed {
		bad += n
	}
	return out, err == nil && bad == 0
}
