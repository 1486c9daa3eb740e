package recorder

import (
	"net/netip"
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/services/recorder/udpflows"
	"github.com/portwarden/portwarden/sockets"
)

// udpIdle ends a UDP flow the kernel has not reported again for this
// long: it reports an active flow every 10 s.
const udpIdle = 30 * time.Second

// maxFlows bounds the UDP flows followed; past it the oldest idle ones
// end early (at their last sighting), as the kernel's own map forgets.
const maxFlows = 65536

// flowKey is one UDP socket's exchange with one peer.
type flowKey struct {
	cookie uint64
	peer   netip.AddrPort
}

// flow applies a UDP flow event: a new flow is a new lifetime (inbound
// when the first datagram came in, outbound when it went out), a known
// one is seen again, and a release ends every flow of its socket. netns
// is the namespace's inode (0 when not known).
func (t *tracker) flow(f *udpflows.Flow, netns uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events++
	if f.Kind == udpflows.Release {
		for _, k := range t.flowsOf[f.Cookie] {
			if l := t.flows[k]; l != nil {
				l.LastSeen, l.Open = f.Time, false
				t.dirty[l] = true
				delete(t.flows, k)
			}
		}
		delete(t.flowsOf, f.Cookie)
		return
	}
	key := flowKey{f.Cookie, unmapPort(f.Peer)}
	if l := t.flows[key]; l != nil {
		l.LastSeen = f.Time
		if l.Local.Port() == 0 && f.Local.Port() != 0 {
			l.Local = unmapPort(f.Local)
		}
		t.dirty[l] = true
		return
	}
	if len(t.flows) >= maxFlows {
		t.expireFlows(f.Time, 0)
	}
	l := &history.Lifetime{Kind: history.Connection, Proto: sockets.UDP, Local: unmapPort(f.Local), Remote: unmapPort(f.Peer),
		FirstSeen: f.Time, LastSeen: f.Time, Open: true, Source: history.EBPF}
	if f.Kind == udpflows.Receive {
		l.Direction, l.ServicePort = direction(history.Inbound, l.Local.Addr(), l.Remote.Addr()), l.Local.Port()
	} else {
		l.Direction, l.ServicePort = direction(history.Outbound, l.Local.Addr(), l.Remote.Addr()), l.Remote.Port()
	}
	ev := tcpevents.Event{PID: f.PID, Comm: f.Comm, ProcessStart: f.ProcessStart, UID: f.UID, GID: f.GID, Cgroup: f.Cgroup}
	l.Owner = t.owner(&ev, netns)
	t.flows[key] = l
	t.flowsOf[f.Cookie] = append(t.flowsOf[f.Cookie], key)
	t.dirty[l] = true
}

// expireFlows ends the UDP flows last seen more than idle before now, at
// their last sighting: the kernel would have reported them again.
func (t *tracker) expireFlows(now time.Time, idle time.Duration) {
	for k, l := range t.flows {
		if now.Sub(l.LastSeen) > idle {
			l.Open = false
			t.dirty[l] = true
			delete(t.flows, k)
		}
	}
}

// expireIdleFlows is expireFlows at udpIdle, locked.
func (t *tracker) expireIdleFlows(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireFlows(now, udpIdle)
}

func unmapPort(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
