package whereabouts

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer answers PTR questions on a UDP socket of its own with name,
// or, when silent, reads them and never answers. It counts the questions.
func dnsServer(t *testing.T, name string, silent bool) (*net.Resolver, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var asked atomic.Int32
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			asked.Add(1)
			var m dnsmessage.Message
			if silent || m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			m.Header.Response, m.Header.Authoritative = true, true
			if q.Type == dnsmessage.TypePTR {
				m.Answers = []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET, TTL: 60},
					Body:   &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(name)},
				}}
			}
			if out, err := m.Pack(); err == nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp4", pc.LocalAddr().String())
	}}
	return r, &asked
}

// TestNameNeverWaits: with a resolver that never answers, asking for a
// hundred names returns at once, at most MaxInFlight lookups run, and
// each ends as failed when its time is up.
func TestNameNeverWaits(t *testing.T) {
	r, asked := dnsServer(t, "", true)
	res := NewResolver(r).WithTimeout(300 * time.Millisecond)
	start := time.Now()
	for i := range 100 {
		if n := res.Name(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})); !n.Pending {
			t.Fatalf("name %d: %+v before any answer", i, n)
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("100 calls took %v: a caller waited on DNS", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res.Wait(ctx)
	if n := res.Name(netip.MustParseAddr("198.51.100.0")); !n.Failed || n.Host != "" {
		t.Errorf("after the timeout: %+v, want failed", n)
	}
	if got := len(res.cache); got != DefaultMaxInFlight {
		t.Errorf("%d addresses asked about at once, want at most %d", got, DefaultMaxInFlight)
	}
	if asked.Load() == 0 {
		t.Error("the resolver was never asked: the test proved nothing")
	}
}

// TestNameFromAServer: a PTR answer becomes the name, without its dot.
func TestNameFromAServer(t *testing.T) {
	r, _ := dnsServer(t, "scanner.example.net.", false)
	res := NewResolver(r)
	addr := netip.MustParseAddr("198.51.100.9")
	res.Name(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res.Wait(ctx)
	if n := res.Name(addr); n.Host != "scanner.example.net" || n.Pending || n.Failed {
		t.Errorf("name %+v, want scanner.example.net", n)
	}
}
