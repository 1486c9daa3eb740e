package recorder

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/recorder/probes"
	"github.com/portwarden/portwarden/sockets"
)

const (
	// scanIdle ends a scan: a peer silent this long starts a new one.
	scanIdle = 60 * time.Second
	// handshakeLead is how long before a scan's first closed-port probe a
	// completed handshake makes it a connect scan (an open port probed
	// first). After its last probe, none does: the scanner's next
	// connection is no part of it.
	handshakeLead = 100 * time.Millisecond
	// maxScans bounds the scans followed at once; past it the oldest
	// written one is let go.
	maxScans = 8192
	// sparsePorts is how many ports a scan keeps in a list before it
	// takes a bitmap of all 65,536.
	sparsePorts = 64
)

type scanKey struct {
	peer  netip.Addr
	netns uint64
	kind  history.ScanKind // ScanSYN, ScanUDP or ScanStealth
}

type scanState struct {
	scan   history.Scan
	sparse []uint16 // sorted, until sparsePorts
	bitmap []uint64 // then every port
	dirty  bool     // changed since written
	// handshake is the first handshake the peer completed since shortly
	// before the scan began: within the scan, it makes it a connect scan.
	handshake time.Time
}

func (s *scanState) add(port uint16) bool {
	if s.bitmap != nil {
		w, bit := port/64, uint64(1)<<(port%64)
		if s.bitmap[w]&bit != 0 {
			return false
		}
		s.bitmap[w] |= bit
		return true
	}
	i, found := slices.BinarySearch(s.sparse, port)
	if found {
		return false
	}
	if len(s.sparse) < sparsePorts {
		s.sparse = slices.Insert(s.sparse, i, port)
		return true
	}
	s.bitmap = make([]uint64, 1024)
	for _, p := range s.sparse {
		s.bitmap[p/64] |= 1 << (p % 64)
	}
	s.sparse = nil
	return s.add(port)
}

func (s *scanState) ports() []uint16 {
	if s.bitmap == nil {
		return slices.Clone(s.sparse)
	}
	var out []uint16
	for w, bits := range s.bitmap {
		for bits != 0 {
			b := uint16(0)
			for bits&(1<<b) == 0 {
				b++
			}
			out = append(out, uint16(w)*64+b)
			bits &^= 1 << b
		}
	}
	return out
}

// scanTracker adds probes up into scans, per peer, namespace and kind.
// It is safe for concurrent use: probes arrive on their own goroutine.
type scanTracker struct {
	mu     sync.Mutex
	active map[scanKey]*scanState
	// handshakes are peers' last completed handshakes (kind 0) while no
	// scan of theirs is followed: one just before a scan's first probe
	// (an open port probed first) counts.
	handshakes map[scanKey]time.Time
}

func newScanTracker() *scanTracker {
	return &scanTracker{active: map[scanKey]*scanState{}, handshakes: map[scanKey]time.Time{}}
}

// kindOf says what scan a probe is part of; 0 for none (an ACK or a
// reset to a closed port is a connection's late packet, not a probe).
func kindOf(p *probes.Probe) history.ScanKind {
	switch {
	case p.Proto == sockets.UDP:
		return history.ScanUDP
	case p.Proto != sockets.TCP || p.TCPFlags&(probes.FlagACK|probes.FlagRST) != 0:
		return 0
	case p.TCPFlags&probes.FlagSYN != 0:
		return history.ScanSYN
	}
	return history.ScanStealth
}

// probe adds one probe.
func (t *scanTracker) probe(p *probes.Probe) {
	kind := kindOf(p)
	peer := p.Remote.Addr().Unmap()
	if kind == 0 || sockets.PeerIsSelf(p.Local.Addr(), peer) {
		return
	}
	key := scanKey{peer, p.NetNS, kind}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.active[key]
	if s != nil && p.Time.Sub(s.scan.Last) > scanIdle && !s.dirty {
		delete(t.active, key) // written and over: a new scan begins
		s = nil
	}
	if s == nil {
		if len(t.active) >= maxScans {
			t.letGo()
		}
		s = &scanState{scan: history.Scan{Peer: peer, NetNS: p.NetNS, Kind: kind, First: p.Time, Last: p.Time}}
		if at, ok := t.handshakes[scanKey{peer: peer, netns: p.NetNS}]; ok && !at.Before(p.Time.Add(-handshakeLead)) {
			s.handshake = at
		}
		t.active[key] = s
	}
	s.scan.Probes++
	if s.add(p.Local.Port()) {
		s.scan.Ports++
	}
	if p.Time.After(s.scan.Last) {
		s.scan.Last = p.Time
	}
	s.dirty = true
}

// letGo forgets the written scan heard from least recently.
func (t *scanTracker) letGo() {
	var oldest scanKey
	var at time.Time
	for k, s := range t.active {
		if !s.dirty && (at.IsZero() || s.scan.Last.Before(at)) {
			oldest, at = k, s.scan.Last
		}
	}
	if !at.IsZero() {
		delete(t.active, oldest)
	}
}

// handshake notes that peer completed a TCP handshake in netns at when:
// on the SYN scan it has under way, or for one that may begin shortly.
func (t *scanTracker) handshake(peer netip.Addr, netns uint64, when time.Time) {
	peer = peer.Unmap()
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.active[scanKey{peer, netns, history.ScanSYN}]; s != nil && s.handshake.IsZero() && !when.Before(s.scan.First.Add(-handshakeLead)) {
		s.handshake = when
		return
	}
	if len(t.handshakes) >= maxScans {
		clear(t.handshakes)
	}
	t.handshakes[scanKey{peer: peer, netns: netns}] = when
}

// take returns copies of the scans changed since they were written, with
// their kind settled and their port lists written out, and forgets the
// written ones that are over by now.
func (t *scanTracker) take(names map[uint64]string, now time.Time) []*history.Scan {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*history.Scan
	for k, s := range t.active {
		if !s.dirty {
			if now.Sub(s.scan.Last) > scanIdle {
				delete(t.active, k) // written and over
			}
			continue
		}
		c := s.scan
		c.PortList = history.PortRanges(s.ports())
		if c.NetNSName == "" {
			c.NetNSName = names[c.NetNS]
		}
		if c.Kind == history.ScanSYN {
			if !s.handshake.IsZero() && !s.handshake.After(c.Last) {
				c.Kind = history.ScanConnect
			}
		}
		out = append(out, &c)
	}
	return out
}

// written keeps the IDs the record gave the scans take returned, and
// marks them clean unless a probe came since.
func (t *scanTracker) written(scans []*history.Scan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range scans {
		kind := c.Kind
		if kind == history.ScanConnect {
			kind = history.ScanSYN
		}
		s := t.active[scanKey{c.Peer, c.NetNS, kind}]
		if s == nil || s.scan.First != c.First {
			continue
		}
		s.scan.ID, s.scan.NetNSName = c.ID, c.NetNSName
		s.dirty = s.scan.Probes != c.Probes
		if s.scan.Kind == history.ScanSYN && c.Kind == history.ScanConnect {
			s.scan.Kind = history.ScanConnect
		}
	}
}
