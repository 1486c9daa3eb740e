//go:build linux

package sockettest

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// Pair is two network namespaces joined by a veth pair, addressed from a
// documentation range (198.51.100.1 and .7/24): each end reads the other
// as an external peer, and nothing touches the host's links or routes.
type Pair struct {
	Client, Server         *Namespace
	ClientAddr, ServerAddr netip.Addr
}

// PairForTest makes a Pair named prefix-c-PID and prefix-s-PID, removed
// (with their link) when t ends.
func PairForTest(t testing.TB, prefix string) *Pair {
	t.Helper()
	p := &Pair{
		Client: NamespaceForTest(t, prefix+"-c"), Server: NamespaceForTest(t, prefix+"-s"),
		ClientAddr: netip.MustParseAddr("198.51.100.1"), ServerAddr: netip.MustParseAddr("198.51.100.7"),
	}
	for _, err := range []error{
		p.Client.IP("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", p.Server.Name),
		p.Client.IP("addr", "add", p.ClientAddr.String()+"/24", "dev", "eth0"),
		p.Server.IP("addr", "add", p.ServerAddr.String()+"/24", "dev", "eth0"),
		p.Client.IP("link", "set", "eth0", "up"),
		p.Server.IP("link", "set", "eth0", "up"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// ServeForTest listens on port at the server's address, in its
// namespace, and hands every connection to handle, each in a goroutine of
// its own, until t ends; handle closes what it is given.
func (p *Pair) ServeForTest(t testing.TB, port uint16, handle func(net.Conn)) {
	t.Helper()
	var ln net.Listener
	if err := p.Server.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.ServerAddr, port).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// SinkForTest serves port (ServeForTest), reading and discarding what
// every connection sends.
func (p *Pair) SinkForTest(t testing.TB, port uint16) {
	t.Helper()
	p.ServeForTest(t, port, func(c net.Conn) { io.Copy(io.Discard, c); c.Close() })
}
