package sockets

// What a snapshot says of the one before it, for those who read every
// snapshot in turn and would rather not look at what did not change.

// Seq numbers the snapshots of a collector that follows the kernel's
// events; 0 for any other.
func (snap *Snapshot) Seq() uint64 { return snap.seq }

// Since says what changed since snapshot base of the same collector: the
// sockets whose byte counters moved and the connections new since, by
// index in Sockets. ok is false when the snapshot does not follow another
// (a full collection): then every socket must be looked at.
func (snap *Snapshot) Since() (base uint64, moved, added []int32, ok bool) {
	return snap.follows, snap.movedAt, snap.addedAt, snap.follows != 0
}

// EachMoved calls fn with every counter the snapshot holds beside its
// sockets (read after they were built), by cookie: with the sockets'
// own, all the counters it has.
func (snap *Snapshot) EachMoved(fn func(cookie uint64, t Traffic)) {
	for cookie, t := range snap.moved {
		fn(cookie, t)
	}
}

// Traffic returns the newest byte counters the snapshot holds for s, and
// whether the kernel counted them (false for UDP and for sockets read
// from /proc/net).
func (snap *Snapshot) Traffic(s *Socket) (Traffic, bool) {
	if t, ok := snap.moved[s.Cookie]; ok && s.Cookie != 0 {
		return t, true
	}
	return s.Bytes, s.Counted
}

// Kept says which of the snapshot's sockets are the same sockets, in the
// same states and held by the same processes, at the same indexes, as in
// snapshot base of the same collector: the first n, but those at the
// indexes in changed. ok is false when the collector cannot say (a full
// collection, one that read every owner again): then compare.
func (snap *Snapshot) Kept() (base uint64, n int, changed []int32, ok bool) {
	return snap.follows, snap.kept, snap.changedAt, snap.follows != 0 && snap.keptKnown
}

// FirstListener is an index in Sockets before which there is no listener:
// a collector that keeps its connections first says where they end, any
// other 0. What looks for listeners may start there.
func (snap *Snapshot) FirstListener() int { return min(snap.firstListener, len(snap.Sockets)) }
