// Package peers gathers what is known of each remote address in one
// place: its connections open now, its recorded lifetimes, the closed
// ports it probed, the logins it failed, the bans that keep it out, and
// who it belongs to. It reads nothing itself: the application feeds it.
package peers

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/portwarden/portwarden/services/bans"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/logins"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/services/whereabouts"
	"github.com/portwarden/portwarden/sockets"
)

// Peer is one remote address and everything known of it.
type Peer struct {
	Addr  netip.Addr
	Class verdict.Peer // external, internal, private, …
	Name  whereabouts.Name
	Place whereabouts.Place

	Open    int     // connections open now
	PreAuth int     // of them, SSH connections nobody has logged in on yet
	Now     []Touch // the open connections by service and direction
	// Lifetimes are the connections and listeners' arrivals recorded.
	Lifetimes int
	// Carried is what the recorded TCP connections with the peer carried
	// (received, sent: this host's view), over Counted of them: those
	// whose bytes the kernel counted as they closed.
	Carried  sockets.Traffic
	Counted  int
	Recorded []Touch  // the recorded lifetimes by service and direction
	Ports    []uint16 // distinct local service ports touched, now or recorded
	Scans    []history.Scan
	Failures []logins.Failures
	Bans     []bans.Ban

	First, Last time.Time // first and last sighting of any kind; zero when never dated
}

// Touch counts connections of one kind with a peer.
type Touch struct {
	Proto     sockets.Proto
	Port      uint16 // the service port (ours inbound, theirs outbound)
	Service   string // the port's service name, when known
	Direction verdict.Direction
	Count     int
	First     time.Time // recorded touches only
	Last      time.Time
}

// Tried is how much a peer has tried: closed ports probed, failed
// logins, and pre-authentication connections held open now.
func (p *Peer) Tried() int {
	n := p.PreAuth
	for _, s := range p.Scans {
		n += s.Ports
	}
	for _, f := range p.Failures {
		n += f.Count
	}
	return n
}

// Banned reports whether a ban keeps the peer out now.
func (p *Peer) Banned() bool { return len(p.Bans) > 0 }

// Builder gathers peers from each source in turn.
type Builder struct {
	internal []netip.Prefix
	byAddr   map[netip.Addr]*Peer
	ports    map[netip.Addr]map[uint16]bool
}

// NewBuilder returns an empty builder; internal are the admin's internal
// networks, which class peers as the verdicts do.
func NewBuilder(internal []netip.Prefix) *Builder {
	return &Builder{internal: internal, byAddr: map[netip.Addr]*Peer{}, ports: map[netip.Addr]map[uint16]bool{}}
}

func (b *Builder) peer(addr netip.Addr) *Peer {
	addr = addr.Unmap().WithZone("")
	p := b.byAddr[addr]
	if p == nil {
		p = &Peer{Addr: addr, Class: verdict.ClassifyPeer(netip.Addr{}, addr, b.internal)}
		b.byAddr[addr] = p
	}
	return p
}

func (b *Builder) touchPort(addr netip.Addr, port uint16) {
	addr = addr.Unmap().WithZone("")
	if b.ports[addr] == nil {
		b.ports[addr] = map[uint16]bool{}
	}
	b.ports[addr][port] = true
}

func (p *Peer) seen(first, last time.Time) {
	if !first.IsZero() && (p.First.IsZero() || first.Before(p.First)) {
		p.First = first
	}
	if last.After(p.Last) {
		p.Last = last
	}
}

// AddSocket adds a connection open now; listeners and connections that
// stay on this host are not peers.
func (b *Builder) AddSocket(j verdict.Judged, now time.Time) {
	s, v := j.Socket, j.Verdict
	if s.Listening() || !s.Remote.Addr().IsValid() || s.Remote.Addr().IsUnspecified() ||
		sockets.PeerIsSelf(s.Local.Addr(), s.Remote.Addr()) {
		return
	}
	p := b.peer(s.Remote.Addr())
	p.Open++
	if v.LoginAttempt {
		p.PreAuth++
	}
	port := s.Local.Port()
	if v.Direction == verdict.DirectionOutbound {
		port = s.Remote.Port()
	} else {
		b.touchPort(s.Remote.Addr(), port)
	}
	p.Now = addTouch(p.Now, Touch{Proto: s.Proto, Port: port, Service: v.Service, Direction: v.Direction, Count: 1})
	p.seen(time.Time{}, now)
}

// AddLifetime adds a recorded connection.
func (b *Builder) AddLifetime(l *history.Lifetime, service string) {
	if l.Kind != history.Connection || !l.Remote.Addr().IsValid() || l.Direction == history.Local {
		return
	}
	p := b.peer(l.Remote.Addr())
	p.Lifetimes++
	if l.Counted {
		p.Carried.Rx += l.Bytes.Rx
		p.Carried.Tx += l.Bytes.Tx
		p.Counted++
	}
	dir := verdict.DirectionInbound
	if l.Direction == history.Outbound {
		dir = verdict.DirectionOutbound
	} else {
		b.touchPort(l.Remote.Addr(), l.ServicePort)
	}
	p.Recorded = addTouch(p.Recorded, Touch{Proto: l.Proto, Port: l.ServicePort, Service: service, Direction: dir, Count: 1,
		First: l.FirstSeen, Last: l.LastSeen})
	p.seen(l.FirstSeen, l.LastSeen)
}

// AddScan adds a recorded scan.
func (b *Builder) AddScan(s history.Scan) {
	p := b.peer(s.Peer)
	p.Scans = append(p.Scans, s)
	p.seen(s.First, s.Last)
}

// AddFailures adds a peer's failed logins.
func (b *Builder) AddFailures(f logins.Failures) {
	p := b.peer(f.Peer)
	p.Failures = append(p.Failures, f)
	p.seen(f.First, f.Last)
}

// addTouch counts t into touches, by protocol, port and direction.
func addTouch(touches []Touch, t Touch) []Touch {
	for i := range touches {
		c := &touches[i]
		if c.Proto == t.Proto && c.Port == t.Port && c.Direction == t.Direction {
			c.Count += t.Count
			if !t.First.IsZero() && (c.First.IsZero() || t.First.Before(c.First)) {
				c.First = t.First
			}
			if t.Last.After(c.Last) {
				c.Last = t.Last
			}
			return touches
		}
	}
	return append(touches, t)
}

// Peers returns every peer gathered, with the bans that cover each (a
// ban alone makes no peer: a blocklist of thousands is not thousands of
// visitors), the most tried first, then the busiest, then by address.
func (b *Builder) Peers(banned []bans.Ban) []Peer {
	out := make([]Peer, 0, len(b.byAddr))
	for addr, p := range b.byAddr {
		for _, ban := range banned {
			if ban.Covers(addr) {
				p.Bans = append(p.Bans, ban)
			}
		}
		for port := range b.ports[addr] {
			p.Ports = append(p.Ports, port)
		}
		slices.Sort(p.Ports)
		slices.SortFunc(p.Now, byCount)
		slices.SortFunc(p.Recorded, byCount)
		slices.SortFunc(p.Scans, func(a, b history.Scan) int { return a.First.Compare(b.First) })
		out = append(out, *p)
	}
	slices.SortFunc(out, func(x, y Peer) int {
		if c := cmp.Compare(y.Tried(), x.Tried()); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Open+y.Lifetimes, x.Open+x.Lifetimes); c != 0 {
			return c
		}
		return x.Addr.Compare(y.Addr)
	})
	return out
}

func byCount(a, b Touch) int {
	if c := cmp.Compare(b.Count, a.Count); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

// Clone copies the builder, so what was gathered once (the record) can
// be added to again and again (each refresh's open connections).
func (b *Builder) Clone() *Builder {
	c := NewBuilder(b.internal)
	for addr, p := range b.byAddr {
		cp := *p
		cp.Now = slices.Clone(p.Now)
		cp.Recorded = slices.Clone(p.Recorded)
		cp.Scans = slices.Clone(p.Scans)
		cp.Failures = slices.Clone(p.Failures)
		cp.Bans = slices.Clone(p.Bans)
		cp.Ports = slices.Clone(p.Ports)
		c.byAddr[addr] = &cp
	}
	for addr, ports := range b.ports {
		c.ports[addr] = maps.Clone(ports)
	}
	return c
}
