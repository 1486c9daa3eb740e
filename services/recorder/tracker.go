// Package recorder is the flight recorder: it follows the life of every TCP
// connection and every TCP and UDP listener in every network namespace —
// from the kernel's own events where eBPF loads, else by polling — and
// commits it to the history store at least every second.
package recorder

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/sockets"
)

// tracker holds the lifetimes still open and those changed since the last
// commit. Events and polls change it; flush hands the changes to the store.
type tracker struct {
	mu sync.Mutex
	// open holds open lifetimes by socket cookie; polled those of them
	// whose end a poll sees (source Poll), for each poll to walk.
	open, polled map[uint64]*history.Lifetime
	// unaccepted holds arrived connections by kernel socket address until
	// a process accepts them.
	unaccepted map[uint64]*history.Lifetime
	dirty      map[*history.Lifetime]bool
	// timeWait holds the cookies of the TIME_WAIT sockets the last poll
	// saw, so that one is recorded once.
	timeWait map[uint64]bool
	events   uint64
	owner    ownerFunc
	// flows are the open UDP flows the kernel reported (udp.go), by
	// socket and peer; flowsOf a socket's, for its release. udpTraced is
	// set while they are traced: polls then leave connected UDP to them.
	flows     map[flowKey]*history.Lifetime
	flowsOf   map[uint64][]flowKey
	udpTraced bool
}

// ownerFunc reads the owner of the process an event names (PID, start,
// comm, and what the kernel read of it: user, group, cgroup), in
// namespace netns.
type ownerFunc func(ev *tcpevents.Event, netns uint64) history.Owner

func newTracker(owner ownerFunc) *tracker {
	return &tracker{
		open:       map[uint64]*history.Lifetime{},
		polled:     map[uint64]*history.Lifetime{},
		unaccepted: map[uint64]*history.Lifetime{},
		flows:      map[flowKey]*history.Lifetime{},
		flowsOf:    map[uint64][]flowKey{},
		dirty:      map[*history.Lifetime]bool{},
		owner:      owner,
	}
}

// event applies one kernel event.
func (t *tracker) event(ev *tcpevents.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events++
	if ev.Kind == tcpevents.Accepted {
		if l := t.unaccepted[ev.Sock]; l != nil {
			delete(t.unaccepted, ev.Sock)
			l.Owner = t.owner(ev, l.Owner.NetNS)
			t.dirty[l] = true
		}
		return
	}
	l := t.open[ev.Cookie]
	switch ev.New {
	case sockets.Listen, sockets.SynSent, sockets.SynRecv:
		if l != nil {
			return // seen already, by the first dump
		}
		l = &history.Lifetime{Kind: history.Connection, Proto: sockets.TCP, Local: ev.Local, Remote: ev.Remote,
			FirstSeen: ev.Time, LastSeen: ev.Time, Open: true, Source: history.EBPF}
		switch ev.New {
		case sockets.Listen:
			l.Kind, l.Remote, l.ServicePort = history.Listener, netip.AddrPort{}, ev.Local.Port()
			l.Owner = t.owner(ev, ev.NetNS)
		case sockets.SynSent:
			l.Direction, l.ServicePort = direction(history.Outbound, ev.Local.Addr(), ev.Remote.Addr()), ev.Remote.Port()
			l.Owner = t.owner(ev, ev.NetNS)
		case sockets.SynRecv:
			l.Direction, l.ServicePort = direction(history.Inbound, ev.Local.Addr(), ev.Remote.Addr()), ev.Local.Port()
			l.Owner = history.Owner{NetNS: ev.NetNS}
			t.unaccepted[ev.Sock] = l
		}
		t.open[ev.Cookie] = l
	case sockets.Established: // after SYN_SENT: the local port is known now
		if l != nil && l.Local.Port() == 0 {
			l.Local = ev.Local
		}
	case sockets.Close:
		if l == nil {
			return
		}
		delete(t.open, ev.Cookie)
		delete(t.unaccepted, ev.Sock)
		l.LastSeen, l.Open = ev.Time, false
		if l.Kind == history.Connection { // what it carried, read by the kernel as it closed
			l.Bytes, l.Counted = ev.Bytes, true
		}
	default:
		return
	}
	t.dirty[l] = true
}

// ownerOf is what the record keeps of a process read from /proc.
func ownerOf(p *sockets.Process, netns uint64) history.Owner {
	o := history.Owner{PID: p.PID, Process: p.Name, Exe: p.Exe, User: p.User, Unit: origin.ManagedUnit(p.Cgroup), NetNS: netns}
	if ref, ok := container.FromCgroup(p.Cgroup); ok {
		o.Container = ref.Short()
	}
	return o
}

// direction is dir, or Local when the peer is this host itself.
func direction(dir history.Direction, local, remote netip.Addr) history.Direction {
	if sockets.PeerIsSelf(local, remote) {
		return history.Local
	}
	return dir
}

// seen records a socket found by a dump at time now: a new lifetime when
// its cookie is not known, marked Poll when polling is what will see its
// end. It returns the lifetime.
func (t *tracker) seen(s *sockets.Socket, now time.Time, listening map[listenKey]bool, source history.Source) *history.Lifetime {
	if l := t.open[s.Cookie]; l != nil {
		return l
	}
	l := &history.Lifetime{Kind: history.Connection, Proto: s.Proto, Local: s.Local, Remote: s.Remote,
		FirstSeen: now, LastSeen: now, Open: s.State != sockets.TimeWait, Source: source}
	if len(s.Processes) > 0 {
		l.Owner = ownerOf(s.Processes[0], s.NetNS) // the dump read it already
	} else {
		l.Owner = history.Owner{NetNS: s.NetNS}
	}
	switch {
	case s.State == sockets.Listen || (s.Proto == sockets.UDP && s.State == sockets.Close):
		l.Kind, l.Remote, l.ServicePort = history.Listener, netip.AddrPort{}, s.Local.Port()
	case listening[listenKey{s.NetNS, s.Proto, s.Local.Port()}]:
		// A connection on a port something here listens on came in.
		l.Direction, l.ServicePort = direction(history.Inbound, s.Local.Addr(), s.Remote.Addr()), s.Local.Port()
	default:
		l.Direction, l.ServicePort = direction(history.Outbound, s.Local.Addr(), s.Remote.Addr()), s.Remote.Port()
	}
	t.events++
	t.dirty[l] = true
	if l.Open {
		t.open[s.Cookie] = l
		if source == history.Poll {
			t.polled[s.Cookie] = l
		}
	}
	return l
}

// listenKey is a port something listens on in a namespace.
type listenKey struct {
	netns uint64
	proto sockets.Proto
	port  uint16
}

// listeningPorts indexes the listeners of a dump.
func listeningPorts(socks []sockets.Socket) map[listenKey]bool {
	m := map[listenKey]bool{}
	for i := range socks {
		s := &socks[i]
		if s.State == sockets.Listen || (s.Proto == sockets.UDP && s.State == sockets.Close) {
			m[listenKey{s.NetNS, s.Proto, s.Local.Port()}] = true
		}
	}
	return m
}

// poll applies a dump of the sockets polling watches (those whose
// protocol is in polled): new ones open, and open ones of those protocols
// the dump no longer has ended after the previous dump, the last time
// they were seen.
func (t *tracker) poll(socks []sockets.Socket, now, previous time.Time, polled map[sockets.Proto]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	listening := listeningPorts(socks)
	present := make(map[uint64]bool, len(socks))
	timeWait := map[uint64]bool{}
	for i := range socks {
		s := &socks[i]
		if !polled[s.Proto] || s.Cookie == 0 {
			continue
		}
		if t.udpTraced && s.Proto == sockets.UDP && s.State != sockets.Close {
			// A connected UDP socket: its flows come from the kernel,
			// which did not know the local port of one it bound itself.
			for _, k := range t.flowsOf[s.Cookie] {
				if l := t.flows[k]; l != nil && l.Local.Port() == 0 {
					l.Local, t.dirty[l] = s.Local, true
				}
			}
			continue
		}
		if s.State == sockets.TimeWait {
			// Closed: its end is handled below when it was open; new, it
			// is a connection that began and ended between two dumps,
			// recorded once.
			timeWait[s.Cookie] = true
			if t.open[s.Cookie] == nil && !t.timeWait[s.Cookie] {
				t.seen(s, now, listening, history.Poll)
			}
			continue
		}
		present[s.Cookie] = true
		t.seen(s, now, listening, history.Poll)
	}
	t.timeWait = timeWait
	for cookie, l := range t.polled {
		if !present[cookie] {
			delete(t.open, cookie)
			delete(t.polled, cookie)
			l.LastSeen, l.Open = previous, false
			t.events++
			t.dirty[l] = true
		}
	}
}

// takeDirty returns copies of the lifetimes changed since the last call,
// the lifetimes they copy, and the count of events, and forgets them. The
// copies are the writer's own; after writing them, call committed.
func (t *tracker) takeDirty() (copies []history.Lifetime, originals []*history.Lifetime, events uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	copies = make([]history.Lifetime, 0, len(t.dirty))
	originals = make([]*history.Lifetime, 0, len(t.dirty))
	for l := range t.dirty {
		copies = append(copies, *l)
		originals = append(originals, l)
	}
	clear(t.dirty)
	events = t.events
	t.events = 0
	return copies, originals, events
}

// committed takes the IDs the store gave the copies into the originals,
// so their next change updates the row.
func (t *tracker) committed(copies []history.Lifetime, originals []*history.Lifetime) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, l := range originals {
		l.ID = copies[i].ID
	}
}

// shed gives up the oldest ended lifetimes waiting to be written until at
// most limit wait, and returns how many it gave up. Open ones stay: their
// end is still to come.
func (t *tracker) shed(limit int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.dirty) <= limit {
		return 0
	}
	var ended []*history.Lifetime
	for l := range t.dirty {
		if !l.Open {
			ended = append(ended, l)
		}
	}
	slices.SortFunc(ended, func(a, b *history.Lifetime) int { return a.FirstSeen.Compare(b.FirstSeen) })
	n := min(len(t.dirty)-limit, len(ended))
	for _, l := range ended[:n] {
		delete(t.dirty, l)
	}
	return n
}

// retry gives back lifetimes whose write failed, to be written next time.
func (t *tracker) retry(originals []*history.Lifetime, events uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range originals {
		t.dirty[l] = true
	}
	t.events += events
}

// start takes the first dump: every socket open now. tcp is how TCP
// sockets will be followed (their end seen by eBPF or by polling); UDP is
// always polled. Lifetimes the record holds as open from a previous run
// are taken up when the same socket is still there, and ended at the
// previous run's last commit when it is not.
func (t *tracker) start(socks []sockets.Socket, now time.Time, tcp history.Source, previous []*history.Lifetime, lastCommit time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	listening := listeningPorts(socks)
	prior := map[identity]*history.Lifetime{}
	for _, l := range previous {
		prior[identityOf(l)] = l
	}
	t.timeWait = map[uint64]bool{}
	for i := range socks {
		s := &socks[i]
		if s.Cookie == 0 {
			continue
		}
		if s.State == sockets.TimeWait {
			// Ended before the recorder started: when it began is not
			// known, so it is not recorded (nor by the first poll).
			t.timeWait[s.Cookie] = true
			continue
		}
		source := history.Poll
		if s.Proto == sockets.TCP {
			source = tcp
		}
		l := t.seen(s, now, listening, source)
		if p := prior[identityOf(l)]; p != nil && l.Open {
			delete(prior, identityOf(l))
			l.ID, l.FirstSeen = p.ID, p.FirstSeen
		}
	}
	for _, p := range prior {
		if lastCommit.Before(p.FirstSeen) {
			lastCommit = p.FirstSeen
		}
		p.LastSeen, p.Open = lastCommit, false
		t.dirty[p] = true
	}
}

// identity is what makes a lifetime the same socket across a restart.
type identity struct {
	kind          history.Kind
	proto         sockets.Proto
	netns         uint64
	local, remote netip.AddrPort
}

func identityOf(l *history.Lifetime) identity {
	return identity{l.Kind, l.Proto, l.Owner.NetNS, unmapped(l.Local), unmapped(l.Remote)}
}

func unmapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
