package traffic

import (
	"net/netip"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

func conn(cookie uint64, rx, tx uint64, pid int) sockets.Socket {
	return sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Cookie: cookie, Counted: true,
		Local: netip.MustParseAddrPort("10.0.0.1:22"), Remote: netip.MustParseAddrPort("198.51.100.7:40000"),
		Bytes: sockets.Traffic{Rx: rx, Tx: tx}, Processes: []*sockets.Process{{PID: pid}}}
}

// TestRatesFromSuccessiveReadings: the first reading has totals and no
// rate; the next has each connection's bytes over the interval, summed per
// process and per peer; a connection new at the second reading has no rate
// yet; the same sockets read again with no counter moved have none.
func TestRatesFromSuccessiveReadings(t *testing.T) {
	var m Meter
	t0 := time.Unix(1000, 0)
	first := &sockets.Snapshot{Time: t0, Sockets: []sockets.Socket{conn(1, 100, 1000, 7), conn(2, 0, 0, 8)}}
	v := m.Read(first)
	if total, _, counted, rated := v.Of(&first.Sockets[0]); !counted || rated || total.Tx != 1000 {
		t.Fatalf("first reading: total %+v counted %v rated %v; want the total, no rate", total, counted, rated)
	}
	second := &sockets.Snapshot{Time: t0.Add(2 * time.Second),
		Sockets: []sockets.Socket{conn(1, 300, 5000, 7), conn(2, 0, 0, 8), conn(3, 10, 10, 7)}}
	v = m.Read(second)
	if _, r, _, rated := v.Of(&second.Sockets[0]); !rated || r != (Rate{Rx: 100, Tx: 2000}) {
		t.Fatalf("second reading: rate %+v rated %v; want 100 B/s in, 2000 B/s out", r, rated)
	}
	if _, r, _, rated := v.Of(&second.Sockets[1]); !rated || !r.IsZero() {
		t.Fatalf("a connection that moved nothing: rate %+v rated %v; want a zero rate", r, rated)
	}
	if _, _, _, rated := v.Of(&second.Sockets[2]); rated {
		t.Fatal("a connection first seen now has a rate")
	}
	if got := v.ByProcess()[7]; got != (Rate{Rx: 100, Tx: 2000}) {
		t.Fatalf("process 7: %+v", got)
	}
	if got := v.ByPeer()[netip.MustParseAddr("198.51.100.7")]; got != (Rate{Rx: 100, Tx: 2000}) {
		t.Fatalf("peer: %+v", got)
	}
	if !v.Changed {
		t.Fatal("rates moved, but the view says nothing changed")
	}
	again := &sockets.Snapshot{Time: t0.Add(3 * time.Second), Sockets: second.Sockets}
	if v = m.Read(again); len(v.ByProcess()) != 0 || !v.Changed {
		t.Fatalf("the same sockets, nothing moved: %+v, changed %v; want no rate, and a change (the rates fell to zero)", v.ByProcess(), v.Changed)
	}
	if v = m.Read(&sockets.Snapshot{Time: t0.Add(4 * time.Second), Sockets: second.Sockets}); v.Changed {
		t.Fatal("a second quiet reading says something changed")
	}
	udp := sockets.Socket{Proto: sockets.UDP, State: sockets.Established}
	if _, _, counted, _ := v.Of(&udp); counted {
		t.Fatal("a UDP socket reads as counted")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[float64]string{0: "0", 999: "999", 1000: "1.0K", 1536: "1.5K", 34 << 10: "34K",
		5 << 20: "5.0M", 999 << 20: "999M", 1 << 30: "1.0G", 3 << 40: "3.0T", 5000 << 40: "5000T"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%v) = %q, want %q", n, got, want)
		}
	}
}

// TestListenerSums: a listener's rate sums the connections it accepted
// that moved; none is told on the first reading, for a UDP socket, or for
// a listener read from /proc/net (no cookie), whose connections the
// kernel did not count there.
func TestListenerSums(t *testing.T) {
	ssh := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Cookie: 100, Local: netip.MustParseAddrPort("0.0.0.0:22")}
	procfs := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:23")}
	udp := sockets.Socket{Proto: sockets.UDP, State: sockets.Listen, Cookie: 101, Local: netip.MustParseAddrPort("0.0.0.0:53")}
	accepting := func(s *sockets.Socket) *sockets.Socket {
		if s.Local.Port() == 22 {
			return &ssh
		}
		return nil
	}
	var m Meter
	t0 := time.Unix(1000, 0)
	v := m.Read(&sockets.Snapshot{Time: t0, Sockets: []sockets.Socket{conn(1, 0, 0, 7), conn(2, 0, 0, 8)}})
	v.SumByListener(accepting)
	if _, ok := v.Listener(&ssh); ok {
		t.Fatal("a sum on the first reading, before any rate")
	}
	v = m.Read(&sockets.Snapshot{Time: t0.Add(time.Second), Sockets: []sockets.Socket{conn(1, 100, 1000, 7), conn(2, 50, 0, 8)}})
	v.SumByListener(accepting)
	if r, ok := v.Listener(&ssh); !ok || r != (Rate{Rx: 150, Tx: 1000}) {
		t.Fatalf("ssh's listener: %+v %v; want both connections' rates summed", r, ok)
	}
	for _, l := range []*sockets.Socket{&procfs, &udp} {
		if r, ok := v.Listener(l); ok {
			t.Errorf("%v %v: a sum %+v where the kernel counts nothing", l.Proto, l.Local, r)
		}
	}
}
