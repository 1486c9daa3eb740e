package sockets

import (
	"maps"
	"slices"
	"time"
)

// The IncrementalCollector's table of connections: put, look up again,
// expire, remove, each kept in step with its indexes.

// sameSockets reports whether a and b hold the same sockets, in any order,
// in the same states and held by the same processes; moved has b's byte
// counters, by cookie, where they differ from a's.
func sameSockets(a, b []Socket) (same bool, moved map[uint64]Traffic) {
	if len(a) != len(b) {
		return false, nil
	}
	at := make(map[ID]int32, len(a))
	for i := range a {
		at[a[i].ID()] = int32(i)
	}
	for i := range b {
		j, ok := at[b[i].ID()]
		if !ok || !a[j].same(&b[i]) || !slices.Equal(a[j].Processes, b[i].Processes) {
			return false, nil
		}
		if b[i].Counted && b[i].Cookie != 0 && (b[i].Bytes != a[j].Bytes || !a[j].Counted) {
			if moved == nil {
				moved = map[uint64]Traffic{}
			}
			moved[b[i].Cookie] = b[i].Bytes
		}
	}
	return true, moved
}

// apply records what a lookup of k found, and reports whether the table
// changed.
func (c *IncrementalCollector) apply(k connKey, s Socket, found bool, now time.Time) bool {
	i, had := c.at[k]
	if !found {
		if !had {
			return false
		}
		c.remove(k, i)
		return true
	}
	s.NetNS = k.ns
	if had && c.conns[i].same(&s) {
		c.expire(k, s, now)
		if s.Counted {
			c.count(i, s.Bytes)
		}
		return false
	}
	if had {
		c.remove(k, i)
	}
	c.put(s, now)
	return true
}

// count keeps the newest byte counters of the connection at index i. Until
// the table's sockets are copied into a snapshot again, they reach the
// snapshots handed out through the overlay (Snapshot.Traffic): a moving
// counter changes no socket, so nothing is judged again for it.
func (c *IncrementalCollector) count(i int32, t Traffic) {
	s := &c.conns[i]
	if s.Counted && s.Bytes == t {
		return
	}
	s.Bytes, s.Counted = t, true
	if s.Cookie != 0 {
		c.moving[s.Cookie] = t
	}
}

// put adds s to the table.
func (c *IncrementalCollector) put(s Socket, now time.Time) {
	k := connKey{s.NetNS, s.Local, s.Remote}
	c.at[k] = int32(len(c.conns))
	c.touched = append(c.touched, int32(len(c.conns)))
	c.conns = append(c.conns, s)
	if s.Cookie != 0 {
		c.byCookie[s.Cookie] = k
		if c.added != nil {
			c.added[s.Cookie] = true
		}
	}
	c.expire(k, s, now)
}

// expire notes when a timewait socket is to be read again: a TIME_WAIT
// one when it is due to go; an orphaned FIN_WAIT2 one, which turns to
// TIME_WAIT when the peer's FIN comes, at every refresh. No event marks
// either: the kernel's timewait sockets change state without one.
func (c *IncrementalCollector) expire(k connKey, s Socket, now time.Time) {
	switch {
	case s.timer != timewaitTimer:
		delete(c.expiry, k)
	case s.State == TimeWait:
		c.expiry[k] = now.Add(time.Duration(s.expiresMs) * time.Millisecond)
	default:
		c.expiry[k] = now
	}
}

// remove takes the connection at index i out, moving the last into its
// place.
func (c *IncrementalCollector) remove(k connKey, i int32) {
	delete(c.byCookie, c.conns[i].Cookie)
	delete(c.expiry, k)
	delete(c.at, k)
	last := int32(len(c.conns) - 1)
	if i != last {
		moved := c.conns[last]
		c.conns[i] = moved
		c.touched = append(c.touched, i)
		c.at[connKey{moved.NetNS, moved.Local, moved.Remote}] = i
	}
	c.conns[last] = Socket{}
	c.conns = c.conns[:last]
}

// connectionsFirst orders socks as the table keeps them: TCP connections
// first, then listeners and UDP sockets, each in the order read.
func connectionsFirst(socks []Socket) []Socket {
	out := make([]Socket, 0, len(socks))
	for i := range socks {
		if socks[i].Proto == TCP && socks[i].State != Listen {
			out = append(out, socks[i])
		}
	}
	for i := range socks {
		if !(socks[i].Proto == TCP && socks[i].State != Listen) {
			out = append(out, socks[i])
		}
	}
	return out
}

// indexes finds the connections named by cookie in c's table: their
// indexes in c.conns, which are theirs in a snapshot's Sockets.
func indexes[V any](c *IncrementalCollector, cookies map[uint64]V) []int32 {
	var out []int32
	for cookie := range cookies {
		if k, ok := c.byCookie[cookie]; ok {
			out = append(out, c.at[k])
		}
	}
	return out
}

// dirty lists the connections to read again: those the changes name, and
// TIME_WAIT sockets whose time is up. hints are the processes the changes
// name.
func (c *IncrementalCollector) dirty(changes []TCPChange, now time.Time) (map[connKey]bool, []int32) {
	dirty := map[connKey]bool{}
	var hints []int32
	for _, ch := range changes {
		if c.dumpers[ch.NetNS] == nil {
			continue // a namespace the query does not read
		}
		if ch.Moved {
			continue // counters only: nothing to read again
		}
		if ch.PID > 0 {
			hints = append(hints, int32(ch.PID))
		}
		if ch.New == Listen || ch.Old == Listen {
			continue // listeners are read every time
		}
		if ch.New == SynSent && ch.Local.Port() == 0 {
			c.pending[ch.Sock] = ch.NetNS
			continue
		}
		delete(c.pending, ch.Sock)
		if k, ok := c.byCookie[ch.Cookie]; ok && ch.Cookie != 0 {
			dirty[k] = true
		}
		if ch.Local.Port() != 0 && ch.Remote.Port() != 0 {
			dirty[connKey{ch.NetNS, ch.Local, ch.Remote}] = true
		}
	}
	for k, at := range c.expiry {
		if !now.Before(at) {
			dirty[k] = true
		}
	}
	moving := map[uint64]bool{}
	for _, ch := range changes {
		if ch.Moved {
			moving[ch.Cookie] = true
		}
	}
	for cookie := range c.quieting {
		if k, ok := c.byCookie[cookie]; ok && !moving[cookie] {
			dirty[k] = true
		}
	}
	c.quieting = moving
	return dirty, hints
}

// readSynSent reads the connections of namespace ns waiting for an answer
// (SYN_SENT), whose ports the changes could not name.
func (c *IncrementalCollector) readSynSent(ns uint64, now time.Time) (changed, ok bool) {
	var found []Socket
	for _, tb := range tables {
		if tb.proto != TCP || !tb.wanted(c.q) {
			continue
		}
		var err error
		if found, _, err = c.dumpers[ns].dump(tb.family, tb.protocol, TCP, 1<<SynSent, found); err != nil {
			return false, false
		}
	}
	for _, s := range found {
		s.NetNS = ns
		changed = c.apply(connKey{ns, s.Local, s.Remote}, s, true, now) || changed
	}
	maps.DeleteFunc(c.pending, func(_, in uint64) bool { return in == ns })
	return changed, true
}
