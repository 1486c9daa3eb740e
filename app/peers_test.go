package app

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestPeersNeverWaitOnDNS: with a resolver that never answers, reading
// the peers of a real external connection takes no DNS time at all, and
// the peer's name reads as asked, not as absent.
func TestPeersNeverWaitOnDNS(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	var ln net.Listener
	if err := bed.Server.Do(func() (err error) { ln, err = net.Listen("tcp4", "0.0.0.0:9402"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var c net.Conn
	if err := bed.Public.Do(func() (err error) {
		c, err = net.Dial("tcp4", netip.AddrPortFrom(bed.ServerPublic4, 9402).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0") // reads questions, answers none
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp4", silent.LocalAddr().String())
	}}
	a, _ := newApp(t, Options{NetNS: sockets.NetNSFilter(bed.Server.Name)})
	a.EnablePeers(PeersOptions{Resolver: resolver, GeoIPDirs: []string{t.TempDir()}, AuthLog: "/dev/null"})
	in, err := a.Inspect(sockets.Query{})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := bed.ClientAddrs()
	for round := range 3 {
		start := time.Now()
		v := a.Peers(in)
		took := time.Since(start)
		var found bool
		for _, p := range v.Peers {
			if p.Addr == client[0] {
				found = true
				if !p.Name.Pending {
					t.Errorf("round %d: name %+v, want still asking", round, p.Name)
				}
			}
		}
		if !found {
			t.Fatalf("round %d: no peer %s in %+v", round, client[0], v.Peers)
		}
		if took > 500*time.Millisecond {
			t.Errorf("round %d: reading peers took %v with a resolver that never answers", round, took)
		}
	}
}
