// Package traffic turns the kernel's byte counters of TCP connections,
// read at every refresh, into rates: per connection, and summed per
// process and per peer.
package traffic

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// Rate is bytes a second, received and sent.
type Rate struct {
	Rx, Tx float64
}

// IsZero reports whether nothing moved.
func (r Rate) IsZero() bool { return r.Rx == 0 && r.Tx == 0 }

// Add returns the sum of two rates.
func (r Rate) Add(o Rate) Rate { return Rate{Rx: r.Rx + o.Rx, Tx: r.Tx + o.Tx} }

// Meter remembers each connection's counters from one reading to the
// next. The zero value is ready; it is not safe for concurrent use.
type Meter struct {
	at   time.Time
	last map[uint64]sockets.Traffic // the counters of every connection read, by cookie
	seq  uint64                     // the snapshot last read (sockets.Snapshot.Seq)
	// wasMoving is set when some connection moved at the last reading:
	// its rate falls to zero now if none does.
	wasMoving bool
}

// View is one reading's rates. A connection seen for the first time has
// its totals but no rate yet.
type View struct {
	// Interval is the time since the reading the rates are against; 0 on
	// the first reading, which has no rates.
	Interval time.Duration
	// Changed reports whether some rate differs from the last reading's.
	Changed bool
	snap    *sockets.Snapshot
	rates   map[uint64]Rate // the connections that moved, by cookie
	fresh   map[uint64]bool // first seen now: no rate yet
	moving  []*sockets.Socket
	new     []*sockets.Socket // first seen now, with counters
	sent    map[uint64]uint64 // bytes sent since the last reading, by cookie, of moving
	// byListener sums the rates of the connections each listener
	// accepted (SumByListener); nil until summed.
	byListener map[*sockets.Socket]Rate
}

// Read takes snap's counters, at its time, and returns the rates since the
// last reading. When snap follows the snapshot last read (the collector
// says what changed since), only the connections it names are looked at:
// a refresh where one socket changed costs one socket here.
func (m *Meter) Read(snap *sockets.Snapshot) *View {
	v := &View{snap: snap, rates: map[uint64]Rate{}, fresh: map[uint64]bool{}, sent: map[uint64]uint64{}}
	if m.last != nil {
		v.Interval = snap.Time.Sub(m.at)
	}
	secs := v.Interval.Seconds()
	note := func(prev map[uint64]sockets.Traffic, s *sockets.Socket, now sockets.Traffic) {
		before, seen := prev[s.Cookie]
		switch {
		case !seen:
			v.fresh[s.Cookie] = true
			v.new = append(v.new, s)
		case now != before && secs > 0 && now.Rx >= before.Rx && now.Tx >= before.Tx:
			v.rates[s.Cookie] = Rate{Rx: float64(now.Rx-before.Rx) / secs, Tx: float64(now.Tx-before.Tx) / secs}
			v.sent[s.Cookie] = now.Tx - before.Tx
			v.moving = append(v.moving, s)
		}
	}
	counted := func(s *sockets.Socket) (sockets.Traffic, bool) {
		if s.Cookie == 0 || s.Proto != sockets.TCP || s.Listening() {
			return sockets.Traffic{}, false
		}
		return snap.Traffic(s)
	}
	base, moved, added, follows := snap.Since()
	if follows && m.last != nil && base == m.seq && len(m.last) <= 2*len(snap.Sockets)+1024 {
		for _, list := range [][]int32{moved, added} {
			for _, i := range list {
				s := &snap.Sockets[i]
				if now, ok := counted(s); ok {
					note(m.last, s, now)
					m.last[s.Cookie] = now
				}
			}
		}
	} else { // every socket; connections gone are forgotten
		last := m.last
		m.last = make(map[uint64]sockets.Traffic, len(snap.Sockets))
		for i := range snap.Sockets {
			s := &snap.Sockets[i]
			now, ok := counted(s)
			if !ok {
				continue
			}
			note(last, s, now) // all fresh on the first reading
			m.last[s.Cookie] = now
		}
	}
	v.Changed = len(v.moving) > 0 || m.wasMoving || len(v.fresh) > 0
	m.at, m.seq, m.wasMoving = snap.Time, snap.Seq(), len(v.moving) > 0
	return v
}

// Of returns a connection's totals and its rate. counted is false where
// the kernel keeps no counters (UDP, TIME_WAIT); rated is false on the
// connection's first reading, which has totals only.
func (v *View) Of(s *sockets.Socket) (total sockets.Traffic, rate Rate, counted, rated bool) {
	if v == nil {
		return sockets.Traffic{}, Rate{}, false, false
	}
	total, counted = v.snap.Traffic(s)
	if !counted {
		return total, Rate{}, false, false
	}
	return total, v.rates[s.Cookie], true, !v.fresh[s.Cookie]
}

// EachSent calls fn with every connection that sent bytes since the last
// reading, and how many. A connection read for the first time gives all
// it sent since it opened, with whole set: the kernel's count does not
// say when.
func (v *View) EachSent(fn func(s *sockets.Socket, sent uint64, whole bool)) {
	if v == nil {
		return
	}
	for _, s := range v.moving {
		if n := v.sent[s.Cookie]; n > 0 {
			fn(s, n, false)
		}
	}
	for _, s := range v.new {
		if t, _ := v.snap.Traffic(s); t.Tx > 0 {
			fn(s, t.Tx, true)
		}
	}
}

// ByProcess sums the rates of each process's connections, by PID; a
// connection several processes hold counts for each.
func (v *View) ByProcess() map[int]Rate {
	out := map[int]Rate{}
	if v == nil {
		return out
	}
	for _, s := range v.moving {
		for _, p := range s.Processes {
			out[p.PID] = out[p.PID].Add(v.rates[s.Cookie])
		}
	}
	return out
}

// SumByListener sums the rates of the connections each listener accepted,
// as accepting tells, for Listener: what a service carries now.
func (v *View) SumByListener(accepting func(*sockets.Socket) *sockets.Socket) {
	if v == nil {
		return
	}
	v.byListener = map[*sockets.Socket]Rate{}
	for _, s := range v.moving {
		if l := accepting(s); l != nil {
			v.byListener[l] = v.byListener[l].Add(v.rates[s.Cookie])
		}
	}
}

// Listener returns the summed rate of the connections TCP listener l
// accepted that moved since the last reading; ok is false where no sum
// is known (a UDP socket, not summed, the first reading) or the kernel
// counts none: a listener read from /proc/net (no cookie) had its
// connections read there too, without counters.
func (v *View) Listener(l *sockets.Socket) (r Rate, ok bool) {
	if v == nil || v.byListener == nil || v.Interval == 0 || l.Proto != sockets.TCP || !l.Listening() || l.Cookie == 0 {
		return Rate{}, false
	}
	return v.byListener[l], true
}

// ByPeer sums the rates of the connections with each remote address.
func (v *View) ByPeer() map[netip.Addr]Rate {
	out := map[netip.Addr]Rate{}
	if v == nil {
		return out
	}
	for _, s := range v.moving {
		peer := s.Remote.Addr().Unmap()
		out[peer] = out[peer].Add(v.rates[s.Cookie])
	}
	return out
}

// Bytes writes a byte count (or a rate's bytes) in at most five cells,
// in powers of 1024: 0, 999, 1.2K, 34K, 5.0M, 1.2G, 3.4T.
func Bytes(n float64) string {
	if n < 1000 {
		return strconv.Itoa(int(n))
	}
	for _, unit := range []string{"K", "M", "G", "T"} {
		n /= 1024
		if n < 9.95 {
			return strconv.FormatFloat(n, 'f', 1, 64) + unit
		}
		if n < 999.5 || unit == "T" {
			return strconv.Itoa(int(n+0.5)) + unit
		}
	}
	return strconv.Itoa(int(n))
}
