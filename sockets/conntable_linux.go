package sockets

import (
	"slices"
	"time"
)

// The IncrementalCollector's table of connections: put, look up again,
// expire, remove, each kept in step with its indexes.

// sameSockets reports whether a and b hold the same sockets, in any order,
// in the same states and held by the same processes.
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
		c.at[connKey{moved.NetNS, moved.Local, moved.Remote}] = i
	}
	c.conns[last] = Socket{}
	c.conns = c.conns[:last]
}
