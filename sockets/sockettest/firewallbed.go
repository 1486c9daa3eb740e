//go:build linux

package sockettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// FirewallBed is three network namespaces of a test's own: a server, and
// two clients joined to it by veth pairs — Public on 198.51.100.16/28 and
// 2001:db8:a::/64, Internal on 198.51.100.32/28 and 2001:db8:b::/64 (a
// test declares the latter internal in its baseline). Each client routes
// everything through the server, so either can try any server address.
// Nothing links the bed to the host's namespace.
type FirewallBed struct {
	Server, Public, Internal *Namespace
	// The server's addresses on each link, and the links' names there.
	ServerPublic4, ServerPublic6     netip.Addr
	ServerInternal4, ServerInternal6 netip.Addr
	PublicLink, InternalLink         string
	PublicNet4, InternalNet4         netip.Prefix
	PublicNet6, InternalNet6         netip.Prefix
}

// NewFirewallBed makes the three namespaces and their links.
func NewFirewallBed() (*FirewallBed, error) {
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	b := &FirewallBed{
		Server: &Namespace{"pw-srv-" + id}, Public: &Namespace{"pw-pub-" + id}, Internal: &Namespace{"pw-int-" + id},
		PublicLink: "pwsp" + id, InternalLink: "pwsi" + id,
		PublicNet4: netip.MustParsePrefix("198.51.100.16/28"), InternalNet4: netip.MustParsePrefix("198.51.100.32/28"),
		PublicNet6: netip.MustParsePrefix("2001:db8:a::/64"), InternalNet6: netip.MustParsePrefix("2001:db8:b::/64"),
	}
	b.ServerPublic4, b.ServerPublic6 = nth(b.PublicNet4.Addr(), 1), nth(b.PublicNet6.Addr(), 1)
	b.ServerInternal4, b.ServerInternal6 = nth(b.InternalNet4.Addr(), 1), nth(b.InternalNet6.Addr(), 1)
	steps := [][]string{
		{"netns", "add", b.Server.Name}, {"netns", "add", b.Public.Name}, {"netns", "add", b.Internal.Name},
		{"-n", b.Server.Name, "link", "set", "lo", "up"},
	}
	for _, side := range []struct {
		client     *Namespace
		link       string
		net4, net6 netip.Prefix
	}{{b.Public, b.PublicLink, b.PublicNet4, b.PublicNet6}, {b.Internal, b.InternalLink, b.InternalNet4, b.InternalNet6}} {
		s4, s6 := nth(side.net4.Addr(), 1), nth(side.net6.Addr(), 1)
		c4, c6 := nth(side.net4.Addr(), 7), nth(side.net6.Addr(), 7)
		steps = append(steps,
			[]string{"-n", b.Server.Name, "link", "add", side.link, "type", "veth", "peer", "name", "eth0", "netns", side.client.Name},
			[]string{"-n", b.Server.Name, "addr", "add", fmt.Sprintf("%s/%d", s4, side.net4.Bits()), "dev", side.link},
			[]string{"-n", b.Server.Name, "addr", "add", fmt.Sprintf("%s/%d", s6, side.net6.Bits()), "dev", side.link, "nodad"},
			[]string{"-n", b.Server.Name, "link", "set", side.link, "up"},
			[]string{"-n", side.client.Name, "addr", "add", fmt.Sprintf("%s/%d", c4, side.net4.Bits()), "dev", "eth0"},
			[]string{"-n", side.client.Name, "addr", "add", fmt.Sprintf("%s/%d", c6, side.net6.Bits()), "dev", "eth0", "nodad"},
			[]string{"-n", side.client.Name, "link", "set", "eth0", "up"},
			[]string{"-n", side.client.Name, "link", "set", "lo", "up"},
			[]string{"-n", side.client.Name, "route", "add", "default", "via", s4.String()},
			[]string{"-n", side.client.Name, "-6", "route", "add", "default", "via", s6.String()},
		)
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Close()
			return nil, fmt.Errorf("sockettest: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return b, nil
}

// Close ends what lives in the namespaces and removes the namespaces, and with them the links and rulesets.
func (b *FirewallBed) Close() error {
	var errs []error
	for _, n := range []*Namespace{b.Server, b.Public, b.Internal} {
		if _, err := os.Stat(n.Path()); err != nil {
			continue
		}
		if err := n.KillAll(); err != nil {
			errs = append(errs, err)
		}
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", n.Name, err, out))
		}
	}
	return errors.Join(errs...)
}

// Probe tries a new connection from inside ns to addr: a TCP connection
// or a UDP datagram whose message must come back (the listener echoes). A packet
// dropped on the way fails after timeout.
func Probe(ns *Namespace, network string, addr netip.AddrPort, timeout time.Duration) bool {
	err := ns.Do(func() error {
		c, err := net.DialTimeout(network, addr.String(), timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		// A working connection, not only a handshake: what is sent comes
		// back, so the listener's side was reached too.
		c.SetDeadline(time.Now().Add(timeout))
		// A line a request-reading server (an HTTP server, say) answers too.
		if _, err := c.Write([]byte("ping\r\n\r\n")); err != nil {
			return err
		}
		buf := make([]byte, 16)
		_, err = c.Read(buf)
		return err
	})
	return err == nil
}

// Echo listens on addr inside ns: TCP accepts and closes, UDP echoes each
// datagram. Close the returned closer to stop it.
func Echo(ns *Namespace, network string, addr netip.AddrPort, v6only bool) (func(), error) {
	var closer func()
	err := ns.Do(func() error {
		lc := net.ListenConfig{}
		if network == "tcp" {
			ln, err := lc.Listen(context.Background(), listenNet(network, addr, v6only), addr.String())
			if err != nil {
				return err
			}
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						c.SetDeadline(time.Now().Add(5 * time.Second))
						buf := make([]byte, 64)
						if n, err := c.Read(buf); err == nil {
							c.Write(buf[:n])
						}
					}()
				}
			}()
			closer = func() { ln.Close() }
			return nil
		}
		pc, err := lc.ListenPacket(context.Background(), listenNet(network, addr, v6only), addr.String())
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 64)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		closer = func() { pc.Close() }
		return nil
	})
	return closer, err
}

// listenNet picks "tcp4", "tcp6" or "tcp": Go's "tcp" on [::] is dual-stack.
func listenNet(network string, addr netip.AddrPort, v6only bool) string {
	switch {
	case addr.Addr().Is4():
		return network + "4"
	case v6only:
		return network + "6"
	}
	return network
}

// Observe connects to a listener of the server namespace from each class
// of client at once — the public client, the internal client, the server
// itself over loopback — and returns the widest class that got through
// ("public", "internal", "host" or "none") and whether the server itself
// did. network is "tcp" or "udp"; a wildcard bind is tried on the
// server's address on each client's own link, IPv4 and IPv6 as the bind
// admits.
func (b *FirewallBed) Observe(network string, bind netip.AddrPort, v6only bool) (reach string, host bool) {
	b.FlushNeighbours()
	pub, in, host := b.ObserveEach(network, bind, v6only)
	switch {
	case pub:
		return "public", host
	case in:
		return "internal", host
	case host:
		return "host", host
	}
	return "none", host
}

// FlushNeighbours empties the neighbour caches of the bed's namespaces,
// so that the next connection starts as a new peer's does: it must
// resolve its neighbours first (IPv6 neighbour discovery, which a
// ruleset may drop).
func (b *FirewallBed) FlushNeighbours() {
	for _, n := range []*Namespace{b.Server, b.Public, b.Internal} {
		exec.Command("ip", "-n", n.Name, "neigh", "flush", "all").Run()
	}
}

// FlushConntrack forgets every connection the server namespace tracks
// (IPCTNL_MSG_CT_DELETE without a tuple, as "conntrack -F"), so that the
// next probe's first packet is new whatever an earlier one left: a UDP
// probe whose random source port meets a datagram's entry from a check
// before would pass as established.
func (b *FirewallBed) FlushConntrack() error {
	const ipctnlMsgCtDelete = 2 // IPCTNL_MSG_CT_DELETE
	f, err := os.Open(b.Server.Path())
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		return fmt.Errorf("sockettest: ctnetlink: %w", err)
	}
	defer c.Close()
	for _, family := range []byte{unix.AF_INET, unix.AF_INET6} {
		_, err := c.Execute(netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_CTNETLINK<<8 | ipctnlMsgCtDelete),
				Flags: netlink.Request | netlink.Acknowledge},
			Data: []byte{family, unix.NFNETLINK_V0, 0, 0},
		})
		if err != nil {
			return fmt.Errorf("sockettest: flush conntrack: %w", err)
		}
	}
	return nil
}

// ClientAddrs are the addresses the public and internal clients connect
// from (IPv4, IPv6).
func (b *FirewallBed) ClientAddrs() (public, internal [2]netip.Addr) {
	return [2]netip.Addr{nth(b.PublicNet4.Addr(), 7), nth(b.PublicNet6.Addr(), 7)},
		[2]netip.Addr{nth(b.InternalNet4.Addr(), 7), nth(b.InternalNet6.Addr(), 7)}
}

// ObserveEach is Observe for each client on its own: whether the public
// client, the internal client and the server itself got through.
func (b *FirewallBed) ObserveEach(network string, bind netip.AddrPort, v6only bool) (pub, in, host bool) {
	const timeout = 400 * time.Millisecond
	targets := func(a4, a6 netip.Addr) []netip.AddrPort {
		addr, port := bind.Addr(), bind.Port()
		switch {
		case !addr.IsUnspecified():
			return []netip.AddrPort{bind}
		case addr.Is4():
			return []netip.AddrPort{netip.AddrPortFrom(a4, port)}
		case v6only:
			return []netip.AddrPort{netip.AddrPortFrom(a6, port)}
		}
		return []netip.AddrPort{netip.AddrPortFrom(a4, port), netip.AddrPortFrom(a6, port)}
	}
	try := func(ns *Namespace, to []netip.AddrPort) bool {
		var wg sync.WaitGroup
		ok := make([]bool, len(to))
		for i, a := range to {
			wg.Add(1)
			go func() { defer wg.Done(); ok[i] = Probe(ns, network, a, timeout) }()
		}
		wg.Wait()
		return slices.Contains(ok, true)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		pub = !bind.Addr().IsLoopback() && try(b.Public, targets(b.ServerPublic4, b.ServerPublic6))
	}()
	go func() {
		defer wg.Done()
		in = !bind.Addr().IsLoopback() && try(b.Internal, targets(b.ServerInternal4, b.ServerInternal6))
	}()
	go func() {
		defer wg.Done()
		host = try(b.Server, targets(netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()))
	}()
	wg.Wait()
	return pub, in, host
}

// FirewallBedForTest makes a FirewallBed for t, or skips t where none can
// be made here (not root, nft not installed), and removes it when t ends,
// on failure too.
func FirewallBedForTest(t testing.TB) *FirewallBed {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (scripts/test.sh installs nftables)")
	}
	b, err := NewFirewallBed()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}
