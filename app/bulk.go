package app

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/traffic"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// BulkOutbound is when a process's traffic to one external peer is a
// sign (signs.BulkOutbound): more than Bytes sent within Window.
type BulkOutbound struct {
	Bytes  uint64 // 0: never
	Window time.Duration
}

// DefaultBulkOutbound is 100 MiB in 10 minutes.
var DefaultBulkOutbound = BulkOutbound{Bytes: 100 << 20, Window: 10 * time.Minute}

// String renders the threshold as --bulk-outbound takes it: "100MiB/10m".
func (b BulkOutbound) String() string {
	if b.Bytes == 0 {
		return "off"
	}
	return traffic.Bytes(float64(b.Bytes)) + "iB/" + b.Window.String()
}

// sentKey is one process and one peer.
type sentKey struct {
	pid   int
	start uint64
	peer  netip.Addr
}

// sending is what a process sent one peer, reading by reading, within
// the window.
type sending struct {
	at    []time.Time
	bytes []uint64
	whole bool // some of it is a connection's total since it opened
	conns map[uint64]bool
}

// outboundTally adds up, per process and external peer, the bytes sent
// within the window, from the traffic each inspection reads. Not safe
// for concurrent use: the App's lock guards it.
type outboundTally struct {
	sent map[sentKey]*sending
}

// signs adds the sent bytes v read to the tally and returns the
// bulk-outbound signs of the processes over the threshold, by PID.
// Connections the baseline documents are not counted: outbound ones to a
// destination it expects ([[outbound]]), inbound ones to a port it
// expects a listener on. A process acknowledged for the sign by its
// executable is the verdict's to judge (an acknowledgement holds only
// while it shows no other sign).
func (t *outboundTally) signs(v *traffic.View, snap *sockets.Snapshot, base *baseline.Baseline, limit BulkOutbound) map[int][]signs.Sign {
	if limit.Bytes == 0 {
		return nil
	}
	if t.sent == nil {
		t.sent = map[sentKey]*sending{}
	}
	var listening map[listenAt]bool // built when a connection first asks
	now := snap.Time
	v.EachSent(func(s *sockets.Socket, n uint64, whole bool) {
		if len(s.Processes) == 0 || verdict.ClassifyPeer(s.Local.Addr(), s.Remote.Addr(), base.Internal) != verdict.PeerExternal ||
			base.MatchOutbound(s) != nil {
			return
		}
		if listening == nil {
			listening = listenersOf(snap)
		}
		if listening[listenAt{s.NetNS, s.Proto, s.Local.Port()}] && documentsPort(base, s) {
			return // a documented service answering its clients
		}
		for _, p := range s.Processes {
			k := sentKey{p.PID, p.StartTicks, s.Remote.Addr().Unmap()}
			sd := t.sent[k]
			if sd == nil {
				sd = &sending{conns: map[uint64]bool{}}
				t.sent[k] = sd
			}
			sd.at, sd.bytes = append(sd.at, now), append(sd.bytes, n)
			sd.whole = sd.whole || whole
			sd.conns[s.Cookie] = true
		}
	})
	out := map[int][]signs.Sign{}
	for k, sd := range t.sent {
		drop := 0
		for drop < len(sd.at) && now.Sub(sd.at[drop]) > limit.Window {
			drop++
		}
		sd.at, sd.bytes = sd.at[drop:], sd.bytes[drop:]
		if len(sd.at) == 0 {
			delete(t.sent, k)
			continue
		}
		var sum uint64
		for _, n := range sd.bytes {
			sum += n
		}
		if sum <= limit.Bytes {
			continue
		}
		detail := fmt.Sprintf("it sent %s to %s in the last %s over %d connection(s), more than %s",
			traffic.Bytes(float64(sum)), k.peer, limit.Window, len(sd.conns), traffic.Bytes(float64(limit.Bytes)))
		if sd.whole {
			detail += " (a connection read for the first time counts all it sent since it opened)"
		}
		out[k.pid] = append(out[k.pid], signs.Sign{Code: signs.BulkOutbound, Risk: signs.BulkOutbound.Risk(), Detail: detail})
	}
	for pid := range out {
		slices.SortFunc(out[pid], func(a, b signs.Sign) int { return strings.Compare(a.Detail, b.Detail) })
	}
	return out
}

// listenAt is a listening port in one namespace.
type listenAt struct {
	ns    uint64
	proto sockets.Proto
	port  uint16
}

// listenersOf indexes snap's listening ports.
func listenersOf(snap *sockets.Snapshot) map[listenAt]bool {
	out := map[listenAt]bool{}
	for i := snap.FirstListener(); i < len(snap.Sockets); i++ {
		if s := &snap.Sockets[i]; s.Listening() {
			out[listenAt{s.NetNS, s.Proto, s.Local.Port()}] = true
		}
	}
	return out
}

// documentsPort reports whether a baseline entry documents the listener
// behind inbound connection s: its protocol and local port.
func documentsPort(base *baseline.Baseline, s *sockets.Socket) bool {
	for i := range base.Entries {
		e := &base.Entries[i]
		if e.Proto == s.Proto.String() && e.Port == s.Local.Port() {
			return true
		}
	}
	return false
}
