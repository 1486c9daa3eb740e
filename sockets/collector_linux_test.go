package sockets_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

func TestMain(m *testing.M) {
	sockettest.RunIfChild()
	os.Exit(m.Run())
}

// methods are both enumeration paths; every live test runs on each.
var methods = []struct {
	name   string
	method sockets.Method
}{
	{"netlink", sockets.Netlink},
	{"procfs", sockets.ProcFS},
}

func collect(t *testing.T, m sockets.Method, q sockets.Query) *sockets.Snapshot {
	t.Helper()
	snap, err := sockets.NewLinuxCollector("/proc", m).Collect(q)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	return snap
}

// lookup finds the socket with the given protocol and endpoints. It skips
// sockets without an inode: a TIME-WAIT left by an earlier connection
// (another test's, on loopback's reused ports) can share the endpoints, and
// is never one of the test's own.
func lookup(snap *sockets.Snapshot, proto sockets.Proto, local, remote netip.AddrPort) *sockets.Socket {
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Proto == proto && s.Inode != 0 && s.Local == local && (!remote.IsValid() || s.Remote == remote) {
			return s
		}
	}
	return nil
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	panic("unexpected address type")
}

func pids(s *sockets.Socket) []int {
	var out []int
	for _, p := range s.Processes {
		out = append(out, p.PID)
	}
	return out
}

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestCollectRealSockets(t *testing.T) {
	ln4 := listen(t, "tcp4", "127.0.0.1:0")
	ln6 := listen(t, "tcp6", "[::1]:0")
	client, err := net.Dial("tcp4", ln4.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln4.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	bound, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	connected, err := net.Dial("udp4", bound.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer connected.Close()

	zero4 := netip.MustParseAddrPort("0.0.0.0:0")
	zero6 := netip.MustParseAddrPort("[::]:0")
	want := []struct {
		what          string
		proto         sockets.Proto
		local, remote netip.AddrPort
		state         string
		version       int
	}{
		{"v4 listener", sockets.TCP, addrPort(ln4.Addr()), zero4, "LISTEN", 4},
		{"v6 listener", sockets.TCP, addrPort(ln6.Addr()), zero6, "LISTEN", 6},
		{"client end", sockets.TCP, addrPort(client.LocalAddr()), addrPort(client.RemoteAddr()), "ESTABLISHED", 4},
		{"server end", sockets.TCP, addrPort(server.LocalAddr()), addrPort(server.RemoteAddr()), "ESTABLISHED", 4},
		{"bound udp", sockets.UDP, addrPort(bound.LocalAddr()), zero4, "UNCONN", 4},
		{"connected udp", sockets.UDP, addrPort(connected.LocalAddr()), addrPort(connected.RemoteAddr()), "ESTABLISHED", 4},
	}
	self, _ := os.Executable()
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			snap := collect(t, m.method, sockets.Query{})
			for _, w := range want {
				s := lookup(snap, w.proto, w.local, w.remote)
				if s == nil {
					t.Errorf("%s %v→%v not in the snapshot", w.what, w.local, w.remote)
					continue
				}
				if s.StateName() != w.state || s.IPVersion() != w.version || s.Inode == 0 || s.UID != uint32(os.Getuid()) {
					t.Errorf("%s: state %s v%d inode %d uid %d; want %s v%d, an inode, uid %d",
						w.what, s.StateName(), s.IPVersion(), s.Inode, s.UID, w.state, w.version, os.Getuid())
				}
				if got := pids(s); !slices.Equal(got, []int{os.Getpid()}) {
					t.Errorf("%s: owners %v, want [%d]", w.what, got, os.Getpid())
					continue
				}
				p := s.Processes[0]
				if p.Exe != self || len(p.Cmdline) == 0 || p.PPID != os.Getppid() || p.StartTicks == 0 || p.User == "" {
					t.Errorf("%s: process details %+v", w.what, p)
				}
			}
		})
	}
}

func TestCollectQueryFilters(t *testing.T) {
	ln4 := listen(t, "tcp4", "127.0.0.1:0")
	ln6 := listen(t, "tcp6", "[::1]:0")
	client, err := net.Dial("tcp4", ln4.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	udp, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()

	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			cases := []struct {
				q                         sockets.Query
				ln4, ln6, clientEnd, udp6 bool
			}{
				{sockets.Query{ListeningOnly: true}, true, true, false, true},
				{sockets.Query{TCP: true, IPv6: true}, false, true, false, false},
				{sockets.Query{UDP: true}, false, false, false, true},
				{sockets.Query{IPv4: true}, true, false, true, false},
			}
			for _, c := range cases {
				snap := collect(t, m.method, c.q)
				got := [4]bool{
					lookup(snap, sockets.TCP, addrPort(ln4.Addr()), netip.AddrPort{}) != nil,
					lookup(snap, sockets.TCP, addrPort(ln6.Addr()), netip.AddrPort{}) != nil,
					lookup(snap, sockets.TCP, addrPort(client.LocalAddr()), netip.AddrPort{}) != nil,
					lookup(snap, sockets.UDP, addrPort(udp.LocalAddr()), netip.AddrPort{}) != nil,
				}
				if want := [4]bool{c.ln4, c.ln6, c.clientEnd, c.udp6}; got != want {
					t.Errorf("query %+v: found [ln4 ln6 client udp6] = %v, want %v", c.q, got, want)
				}
			}
		})
	}
}

// socketFile returns a dup of a TCP listener's descriptor.
func socketFile(t *testing.T, ln net.Listener) *os.File {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestChildHoldsSocket(t *testing.T) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	local := addrPort(ln.Addr())
	f := socketFile(t, ln)
	child, err := sockettest.Hold(f)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	// Only the child holds it now.
	f.Close()
	ln.Close()

	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			s := lookup(collect(t, m.method, sockets.Query{ListeningOnly: true}), sockets.TCP, local, netip.AddrPort{})
			if s == nil {
				t.Fatalf("listener %v held by child %d not found", local, child.PID)
			}
			if got := pids(s); !slices.Equal(got, []int{child.PID}) {
				t.Errorf("owners %v, want the child [%d]", got, child.PID)
			}
		})
	}
}

func TestSharedSocketListsEveryHolder(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	f := socketFile(t, ln)
	defer f.Close()
	child, err := sockettest.Hold(f)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()

	want := []int{os.Getpid(), child.PID}
	slices.Sort(want)
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			s := lookup(collect(t, m.method, sockets.Query{ListeningOnly: true}), sockets.TCP, addrPort(ln.Addr()), netip.AddrPort{})
			if s == nil {
				t.Fatal("shared listener not found")
			}
			if got := pids(s); !slices.Equal(got, want) {
				t.Errorf("owners %v, want both %v", got, want)
			}
		})
	}
}

func TestProcessCacheFollowsPIDIdentity(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	c := sockets.NewLinuxCollector("/proc", sockets.Netlink)
	first, err := c.Collect(sockets.Query{ListeningOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Collect(sockets.Query{ListeningOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	a := lookup(first, sockets.TCP, addrPort(ln.Addr()), netip.AddrPort{})
	b := lookup(second, sockets.TCP, addrPort(ln.Addr()), netip.AddrPort{})
	if a == nil || b == nil || len(a.Processes) != 1 || len(b.Processes) != 1 {
		t.Fatal("listener or its owner missing")
	}
	if a.Processes[0] != b.Processes[0] {
		t.Error("the same process (pid, start time) was read twice instead of cached")
	}
}

func TestDiff(t *testing.T) {
	c := sockets.NewLinuxCollector("/proc", sockets.Netlink)
	q := sockets.Query{ListeningOnly: true, TCP: true}
	gone := listen(t, "tcp4", "127.0.0.1:0")
	before, err := c.Collect(q)
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	lc := net.ListenConfig{}
	fresh, err := lc.Listen(context.Background(), "tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	after, err := c.Collect(q)
	if err != nil {
		t.Fatal(err)
	}
	d := sockets.Diff(before, after)
	has := func(list []sockets.Socket, a net.Addr) bool {
		return slices.ContainsFunc(list, func(s sockets.Socket) bool { return s.Local == addrPort(a) })
	}
	if !has(d.Appeared, fresh.Addr()) || has(d.Vanished, fresh.Addr()) {
		t.Errorf("new listener %v not reported as appeared only: %+v", fresh.Addr(), d)
	}
	if !has(d.Vanished, gone.Addr()) || has(d.Appeared, gone.Addr()) {
		t.Errorf("closed listener %v not reported as vanished only: %+v", gone.Addr(), d)
	}
	if same := sockets.Diff(after, after); len(same.Appeared)+len(same.Vanished) != 0 {
		t.Errorf("a snapshot differs from itself: %+v", same)
	}
}

// inNewNetns runs fn on an OS thread moved into a fresh network namespace,
// where binding wildcard addresses is safe. The thread is never unlocked,
// so it ends with fn and the namespace goes with it.
func inNewNetns(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			t.Errorf("unshare network namespace: %v", err)
			return
		}
		fn()
	}()
	<-done
}

func listenV6(only int) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, only)
		})
		return errors.Join(err, serr)
	}}
	return lc.Listen(context.Background(), "tcp6", "[::]:0")
}

// TestV6Only checks that netlink tells a v6-only [::] listener from a
// dual-stack one, which accepts IPv4 too. (The kernel makes every socket
// bound to a specific IPv6 address v6-only, so only [::] differs.)
func TestV6Only(t *testing.T) {
	inNewNetns(t, func() {
		only, err := listenV6(1)
		if err != nil {
			t.Error(err)
			return
		}
		defer only.Close()
		dual, err := listenV6(0)
		if err != nil {
			t.Error(err)
			return
		}
		defer dual.Close()
		snap, err := sockets.NewLinuxCollector("/proc", sockets.Netlink).Collect(sockets.Query{ListeningOnly: true})
		if err != nil {
			t.Error(err)
			return
		}
		a := lookup(snap, sockets.TCP, addrPort(only.Addr()), netip.AddrPort{})
		b := lookup(snap, sockets.TCP, addrPort(dual.Addr()), netip.AddrPort{})
		if a == nil || b == nil {
			t.Errorf("listeners missing from the namespace's snapshot (%d sockets)", len(snap.Sockets))
			return
		}
		if !a.V6Only || b.V6Only {
			t.Errorf("V6Only: v6-only listener %v, dual-stack listener %v; want true, false", a.V6Only, b.V6Only)
		}
		if len(a.Processes) != 1 || a.Processes[0].PID != os.Getpid() {
			t.Errorf("owner of a listener in a namespace: %v", pids(a))
		}
	})
}

// TestRememberedOwners drives one collector through what its memory of
// owners must get right between full walks: a new process inheriting an
// existing socket, that process exiting, and a socket nobody saw before.
func TestRememberedOwners(t *testing.T) {
	c := sockets.NewLinuxCollector("/proc", sockets.Netlink)
	q := sockets.Query{ListeningOnly: true, TCP: true}
	ln := listen(t, "tcp4", "127.0.0.1:0")
	owners := func() []int {
		t.Helper()
		s := lookup(collect2(t, c, q), sockets.TCP, addrPort(ln.Addr()), netip.AddrPort{})
		if s == nil {
			t.Fatal("listener missing")
		}
		return pids(s)
	}
	if got := owners(); !slices.Equal(got, []int{os.Getpid()}) {
		t.Fatalf("first collection: %v", got)
	}

	f := socketFile(t, ln)
	child, err := sockettest.Hold(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := []int{os.Getpid(), child.PID}
	slices.Sort(want)
	if got := owners(); !slices.Equal(got, want) {
		t.Errorf("a new process holding a known socket: owners %v, want %v", got, want)
	}
	if err := child.Close(); err != nil {
		t.Fatal(err)
	}
	if got := owners(); !slices.Equal(got, []int{os.Getpid()}) {
		t.Errorf("after the holder exited: owners %v", got)
	}

	fresh := listen(t, "tcp6", "[::1]:0")
	s := lookup(collect2(t, c, q), sockets.TCP, addrPort(fresh.Addr()), netip.AddrPort{})
	if s == nil || !slices.Equal(pids(s), []int{os.Getpid()}) {
		t.Errorf("a socket opened since the last walk: %+v", s)
	}
}

func collect2(t *testing.T, c *sockets.LinuxCollector, q sockets.Query) *sockets.Snapshot {
	t.Helper()
	snap, err := c.Collect(q)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}
