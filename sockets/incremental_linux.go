package sockets

import (
	"maps"
	"net/netip"
	"slices"
	"time"
)

// Resync is how long an IncrementalCollector trusts its table by default:
// a full collection then reads every socket and owner again, so nothing it
// could not follow (a half-open connection, a socket passed to another
// process) stays wrong longer. Each full collection that finds the table
// right doubles the trust, up to maxTrust times Resync; one that finds it
// wrong brings it back to Resync.
const Resync = 30 * time.Second

// maxTrust bounds how far a table proven right stretches the time between
// full collections: 4 × 30 s, two minutes.
const maxTrust = 4

// maxLookups bounds the sockets one refresh reads again one by one: past
// it, one full dump costs less.
const maxLookups = 4096

// IncrementalCollector keeps the TCP connections it last read and, between
// full collections, reads again only those the kernel reports changed (a
// ChangeFeed). Listeners and UDP sockets, few and cheap to list, are read
// afresh every time. When nothing changed it returns the last snapshot's
// sockets as they were: the same slice, which callers may take as "nothing
// to judge again". Only the zero-filter query of its first call is kept
// up to date; any other query, a lost change or a new namespace makes a
// full collection.
type IncrementalCollector struct {
	full   *LinuxCollector
	feed   ChangeFeed
	resync time.Duration // the least trust
	trust  time.Duration // the time between full collections now

	q          Query
	last       *Snapshot
	lastFull   time.Time
	conns      []Socket           // TCP sockets in the connection hash, with the owners last found
	at         map[connKey]int32  // conns by ends
	byCookie   map[uint64]connKey // conns by cookie
	expiry     map[connKey]time.Time
	pending    map[uint64]uint64 // SYN_SENT sockets whose port is not known yet: address → namespace
	live       []Socket          // listeners and UDP sockets, last read, with the owners last found
	raw        []RawSocket       // packet and raw sockets, last read
	unreadable int               // processes whose namespace could not be seen, last time
	complete   bool              // the collector's own word on the last table;
	warnings   []string          // callers add their warnings to a snapshot's
	dumpers    map[uint64]*netlinkDumper
	changes    []TCPChange
	// moved is the overlay of counters read since the last snapshot's
	// sockets were copied (shared with the snapshots: replaced, never
	// changed); moving, those read in this refresh.
	moved, moving map[uint64]Traffic
	// added are the connections put in the table in this refresh, by
	// cookie; seq numbers the snapshots handed out.
	added map[uint64]bool
	seq   uint64
	// quieting are the connections whose counters moved in the last
	// refresh, by cookie. The kernel's event reads a connection's
	// counters as a segment arrives, before its data is counted: a
	// connection that stops moving is read once more, for its last bytes.
	quieting map[uint64]bool
	// shown is how many connections the last snapshot handed out holds;
	// touched the indexes in conns written since (Snapshot.Kept).
	shown   int
	touched []int32
	// ahead are changes read before their refresh (readAhead); aheadLost
	// says some were lost then.
	ahead     []TCPChange
	aheadLost bool

	// Stats counts what each refresh did, for traces and tests.
	Stats IncrementalStats
	kind  string // what the last collection was, for Trace
}

// IncrementalStats counts an IncrementalCollector's refreshes by kind.
type IncrementalStats struct {
	Full      int // full collections
	Unchanged int // refreshes that found nothing changed
	Changed   int // refreshes that read some sockets again
	Lookups   int // sockets read again one by one
	// NewOwners counts changed refreshes that looked for the owners of
	// new sockets only, the others' being as remembered.
	NewOwners int
	// Drifted counts full collections that found the table not as kept:
	// what no kernel event told (see the type's comment).
	Drifted int
	// Trust is the time between full collections now (see Resync).
	Trust time.Duration
}

// connKey names a TCP connection: its ends in its namespace.
type connKey struct {
	ns            uint64
	local, remote netip.AddrPort
}

// NewIncrementalCollector returns a collector that follows feed between
// full collections every resync (Resync if 0).
func NewIncrementalCollector(feed ChangeFeed, resync time.Duration) *IncrementalCollector {
	if resync <= 0 {
		resync = Resync
	}
	full := NewLinuxCollector("/proc", Auto)
	full.ownerTrust = 2 * resync // past the first resync, which reads them again
	return &IncrementalCollector{full: full, feed: feed, resync: resync, trust: resync, dumpers: map[uint64]*netlinkDumper{}}
}

// Close closes the sock_diag sockets it keeps open, one per namespace.
func (c *IncrementalCollector) Close() error {
	for ns, d := range c.dumpers {
		d.close()
		delete(c.dumpers, ns)
	}
	return nil
}

// Collect takes a snapshot of the sockets q asks for.
func (c *IncrementalCollector) Collect(q Query) (*Snapshot, error) {
	follow := q
	follow.Fresh = false
	if q.Fresh || c.last == nil || follow != c.q {
		return c.collectFull(q)
	}
	if time.Since(c.lastFull) >= c.trust {
		// A resync: the table first takes in what the kernel told since
		// the last refresh, so that what the full collection finds
		// different is what the events missed — not a listener that came
		// a moment ago, which would make the table look wrong and bring
		// its trust down.
		c.catchUp()
		return c.collectFull(q)
	}
	changes, lost, err := c.readChanges()
	if err != nil || lost {
		return c.collectFull(q)
	}
	snap, ok := c.refresh(changes)
	if !ok {
		return c.collectFull(q)
	}
	return snap, nil
}

// collectFull reads everything, every owner too, and keeps what it read as
// the table.
func (c *IncrementalCollector) collectFull(q Query) (*Snapshot, error) {
	c.feed.Changes(c.changes[:0]) // what happened before is in the dump
	c.ahead, c.aheadLost = c.ahead[:0], false
	c.full.owners = nil // read them all: the memory is as old as the table
	snap, err := c.full.Collect(q)
	if err != nil {
		return nil, err
	}
	asked := q.Fresh // the admin's r, not a resync due
	q.Fresh = false  // kept: the next refreshes follow the table
	c.seq++
	snap.seq = c.seq
	c.unreadable = c.full.unreadable
	c.moved = nil
	handedBack := false
	if c.last != nil && q == c.q {
		same, moved := sameSockets(c.last.Sockets, snap.Sockets)
		if same && sameRaw(c.last.Raw, snap.Raw) &&
			slices.EqualFunc(c.last.Raw, snap.Raw, func(a, b RawSocket) bool { return slices.Equal(a.Processes, b.Processes) }) {
			// The table was right: the same sockets go back, so nothing
			// is judged or drawn again; counters that moved go beside them.
			snap.Sockets, snap.Raw, snap.holders = c.last.Sockets, c.last.Raw, c.last.holders
			c.moved, snap.moved = moved, moved
			handedBack = true
			if !asked { // a resync due: the table proved right
				c.trust = min(2*c.trust, maxTrust*c.resync)
			}
		} else {
			c.Stats.Drifted++
			c.trust = c.resync
		}
		c.full.ownerTrust = c.trust + c.resync // they are read again at the next resync
	}
	c.Stats.Trust = c.trust
	if !handedBack {
		// Connections first, as the table keeps them: a socket's index
		// in the snapshot is its index in the table (Snapshot.Since).
		snap.Sockets = connectionsFirst(snap.Sockets)
	}
	c.q, c.last, c.lastFull = q, snap, time.Now()
	c.complete, c.warnings = snap.Complete, slices.Clone(snap.Warnings)
	c.conns, c.live, c.raw = nil, nil, c.full.rawRead
	c.at, c.byCookie, c.added = map[connKey]int32{}, map[uint64]connKey{}, nil
	c.expiry, c.pending = map[connKey]time.Time{}, map[uint64]uint64{}
	for _, s := range snap.Sockets {
		if s.Proto == TCP && s.State != Listen {
			if t, ok := c.moved[s.Cookie]; ok && s.Cookie != 0 {
				s.Bytes = t // the counters the dump read, beside the sockets handed back
			}
			c.put(s, c.lastFull)
		} else {
			c.live = append(c.live, s)
		}
	}
	c.shown, c.touched = len(c.conns), c.touched[:0]
	snap.firstListener = len(c.conns)
	entered := map[uint64]bool{}
	for _, ns := range snap.Namespaces {
		entered[ns.Inode] = ns.Entered
	}
	for ns, d := range c.dumpers {
		if !entered[ns] {
			d.close()
			delete(c.dumpers, ns)
		}
	}
	c.Stats.Full++
	c.kind = "full"
	if handedBack {
		c.kind = "full-same"
	}
	return snap, nil
}

// Trace says what the last collection did: "full" (every socket and owner
// read; "full-same" when it found the table as kept), "unchanged",
// "changed" (new sockets' owners looked for), "changed-owners" (every
// owner looked for again).
func (c *IncrementalCollector) Trace() string { return c.kind }

// refresh brings the table up to date from changes; ok is false when only
// a full collection can (a namespace came or went, one cannot be read, too
// much changed).
func (c *IncrementalCollector) refresh(changes []TCPChange) (snap *Snapshot, ok bool) {
	now := time.Now()
	pids, err := listPIDs(c.full.procRoot)
	if err != nil {
		return nil, false
	}
	d := discoverNamespaces(c.full.procRoot, pids)
	var targets []nsTarget
	for _, t := range d.targets {
		if c.q.NetNS.matches(&t.Namespace, d.self) {
			t.Namespace.Path, t.Entered = t.path, true
			targets = append(targets, t)
		}
	}
	if !c.sameNamespaces(targets) {
		return nil, false
	}
	live := make([]Socket, 0, len(c.live))
	for _, t := range targets {
		if live, ok = c.readLive(t, live); !ok {
			return nil, false
		}
	}
	var raw []RawSocket
	if c.q.wantsRaw() {
		for _, t := range targets {
			if raw, ok = c.readRaw(t, raw); !ok {
				return nil, false
			}
		}
	}
	dirty, hints := c.dirty(changes, now)
	if len(dirty) > maxLookups {
		return nil, false
	}
	if c.moving == nil {
		c.moving = map[uint64]Traffic{}
	}
	if c.added == nil {
		c.added = map[uint64]bool{}
	}
	clear(c.moving)
	clear(c.added)
	for _, ch := range changes { // before the lookups, which read newer counters
		if k, ok := c.byCookie[ch.Cookie]; ok && ch.Moved {
			c.count(c.at[k], ch.Bytes)
		}
	}
	changed := !slices.EqualFunc(live, c.live, func(a, b Socket) bool { return a.same(&b) }) || !sameRaw(raw, c.raw)
	for k := range dirty {
		s, found, err := c.dumpers[k.ns].lookup(k.local, k.remote)
		if err != nil {
			return nil, false
		}
		c.Stats.Lookups++
		changed = c.apply(k, s, found, now) || changed
	}
	waiting := map[uint64]bool{}
	for _, ns := range c.pending {
		waiting[ns] = true
	}
	for ns := range waiting {
		more, ok := c.readSynSent(ns, now)
		if !ok {
			return nil, false
		}
		changed = changed || more
	}
	c.raw = raw
	c.seq++
	snap = &Snapshot{Time: now, Complete: c.complete, Source: c.last.Source, Warnings: slices.Clone(c.warnings),
		seq: c.seq, follows: c.last.seq, firstListener: len(c.conns)}
	snap.movedAt, snap.addedAt = indexes(c, c.moving), indexes(c, c.added)
	for _, t := range targets {
		snap.Namespaces = append(snap.Namespaces, t.Namespace)
	}
	moves, known := c.full.ownerMoves(pids)
	ownersKept := d.unreadable == c.unreadable && known
	if !changed && ownersKept && moves.none() {
		snap.Sockets, snap.Raw, snap.holders = c.last.Sockets, c.last.Raw, c.last.holders
		if len(c.moving) > 0 {
			c.moved = maps.Clone(c.moved)
			if c.moved == nil {
				c.moved = make(map[uint64]Traffic, len(c.moving))
			}
			maps.Copy(c.moved, c.moving)
		}
		snap.moved = c.moved
		snap.kept, snap.keptKnown = len(c.conns), true
		c.Stats.Unchanged++
		c.kind = "unchanged"
		c.last = snap
		return snap, true
	}
	snap.Complete, snap.Warnings, c.unreadable = true, nil, d.unreadable
	d.warn(snap)
	if ownersKept {
		keepOwners(live, c.live)
	}
	c.live = live
	snap.Sockets = make([]Socket, 0, len(c.conns)+len(live))
	snap.Sockets = append(append(snap.Sockets, c.conns...), live...)
	c.moved = nil                // the copies carry every counter
	snap.Raw = slices.Clone(raw) // owners and filters are added to the snapshot's, not to c.raw
	c.kind = "changed"
	var moved []int32 // sockets whose holders exited or were joined
	if ownersKept && !moves.none() {
		moved = c.full.forgetMoved(snap, moves)
	}
	if gained, ok := c.full.attributeNew(snap, hints, ownersKept, c.readAhead); ok {
		c.Stats.NewOwners++
		snap.kept, snap.keptKnown = min(c.shown, len(c.conns)), true
		snap.changedAt = slices.Clone(c.touched)
		for _, i := range slices.Concat(gained, moved) {
			if int(i) < len(c.conns) {
				snap.changedAt = append(snap.changedAt, i)
			}
		}
	} else {
		for i := range snap.Sockets {
			snap.Sockets[i].Processes = nil // every owner is looked for again
		}
		c.kind = "changed-owners"
		c.full.attribute(snap, pids, hints)
	}
	c.shown, c.touched = len(c.conns), c.touched[:0]
	for i := range c.conns {
		c.conns[i].Processes = snap.Sockets[i].Processes
	}
	for i := range c.live {
		c.live[i].Processes = snap.Sockets[len(c.conns)+i].Processes
	}
	c.complete, c.warnings = snap.Complete, slices.Clone(snap.Warnings)
	c.Stats.Changed++
	c.last = snap
	return snap, true
}
