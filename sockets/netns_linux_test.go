package sockets_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// namedNS is a namespace made with `ip netns add` for a test, deleted at
// its end.
type namedNS struct {
	name string
	path string
}

func newNamedNS(t *testing.T, suffix string) namedNS {
	t.Helper()
	ns := namedNS{name: fmt.Sprintf("pwns-%d-%s", os.Getpid()%100000, suffix)}
	ns.path = "/run/netns/" + ns.name
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", ns.name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", ns.name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	return ns
}

// do runs fn on a thread inside the namespace, then returns the thread.
func (ns namedNS) do(t *testing.T, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(ns.path)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err // the thread stays locked and dies with this goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// listenIn opens a TCP listener on addr and a UDP socket inside ns, and
// hands both to a holder process (which lives in the host namespace).
func listenIn(t *testing.T, ns namedNS, addr string) (*sockettest.Holder, netip.AddrPort) {
	t.Helper()
	var files []*os.File
	var at netip.AddrPort
	ns.do(t, func() error {
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			return err
		}
		defer ln.Close()
		at = ln.Addr().(*net.TCPAddr).AddrPort()
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer pc.Close()
		lf, err := ln.(*net.TCPListener).File()
		if err != nil {
			return err
		}
		uf, err := pc.(*net.UDPConn).File()
		if err != nil {
			return err
		}
		// A connection to it from inside, so the namespace holds more
		// than listeners (both ends: the server's waits in the backlog).
		conn, err := net.Dial("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), at.Port()).String())
		if err != nil {
			return err
		}
		defer conn.Close()
		cf, err := conn.(*net.TCPConn).File()
		files = append(files, lf, uf, cf)
		return err
	})
	h, err := sockettest.Hold(files...)
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, at
}

// ssIn is the oracle: `ss -tuanH` inside the namespace, as "proto local
// remote" rows.
func ssIn(t *testing.T, ns namedNS) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns.name, "ss", "-tuanH").Output()
	if err != nil {
		t.Fatalf("ss in %s: %v", ns.name, err)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		local, err1 := parseSS(f[4])
		remote, err2 := parseSS(f[5])
		if err1 != nil || err2 != nil {
			t.Fatalf("ss row %q", l)
		}
		rows = append(rows, fmt.Sprintf("%s %s %d", f[0], local, remote.Port()))
	}
	slices.Sort(rows)
	return rows
}

// parseSS reads ss's "0.0.0.0:*", "*:22", "[::]:*".
func parseSS(s string) (netip.AddrPort, error) {
	if rest, ok := strings.CutSuffix(s, ":*"); ok {
		s = rest + ":0"
	}
	if rest, ok := strings.CutPrefix(s, "*:"); ok {
		s = "0.0.0.0:" + rest
	}
	return netip.ParseAddrPort(s)
}

// ourIn is the snapshot's rows of one namespace, in ssIn's form.
func ourIn(snap *sockets.Snapshot, ino uint64) []string {
	var rows []string
	for _, s := range snap.Sockets {
		if s.NetNS == ino {
			rows = append(rows, fmt.Sprintf("%s %s %d", s.Proto, netip.AddrPortFrom(s.Local.Addr().Unmap(), s.Local.Port()), s.Remote.Port()))
		}
	}
	slices.Sort(rows)
	return rows
}

// TestEveryNamespace reads sockets in namespaces other than its own: one
// with a process living in it, one kept only by its bind mount under
// /run/netns. Each agrees with ss run inside it, names its namespace and
// finds the owner (a process in the host namespace) by the one fd walk.
func TestEveryNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering namespaces needs root")
	}
	a, b := newNamedNS(t, "a"), newNamedNS(t, "b")
	// A process living in a (it holds no socket).
	resident := exec.Command("ip", "netns", "exec", a.name, "sleep", "120")
	if err := resident.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { resident.Process.Kill(); resident.Wait() }()
	holderA, addrA := listenIn(t, a, "0.0.0.0:0") // a wildcard bind is safe in there
	holderB, addrB := listenIn(t, b, "127.0.0.1:0")
	inoA, inoB := statIno(t, a.path), statIno(t, b.path)
	waitFor(t, "the resident to enter its namespace", func() bool {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", resident.Process.Pid))
		return link == fmt.Sprintf("net:[%d]", inoA)
	})

	snap, err := sockets.NewCollector().Collect(sockets.Query{})
	if err != nil {
		t.Fatal(err)
	}
	nsA, nsB := snap.Namespace(inoA), snap.Namespace(inoB)
	if nsA == nil || nsA.Name != a.name || nsA.Host || !nsA.Entered || nsA.Processes != 1 {
		t.Errorf("namespace a: %+v", nsA)
	}
	if nsB == nil || nsB.Name != b.name || !nsB.Entered || nsB.Processes != 0 {
		t.Errorf("namespace b (a bind mount, no process): %+v", nsB)
	}
	if len(snap.Namespaces) == 0 || !snap.Namespaces[0].Host {
		t.Errorf("the host's namespace does not come first: %+v", snap.Namespaces)
	}
	for _, ns := range []namedNS{a, b} {
		ino := statIno(t, ns.path)
		if got, want := ourIn(snap, ino), ssIn(t, ns); !slices.Equal(got, want) {
			t.Errorf("namespace %s:\nportwarden %v\nss         %v", ns.name, got, want)
		}
	}
	for _, c := range []struct {
		ino    uint64
		addr   netip.AddrPort
		holder int
	}{{inoA, addrA, holderA.PID}, {inoB, addrB, holderB.PID}} {
		found := false
		for _, s := range snap.Sockets {
			if s.NetNS == c.ino && s.Local == c.addr && s.Listening() {
				found = true
				if len(s.Processes) != 1 || s.Processes[0].PID != c.holder {
					t.Errorf("listener %v in netns %d: owners %+v, want pid %d", c.addr, c.ino, s.Processes, c.holder)
				}
			}
		}
		if !found {
			t.Errorf("listener %v not found in netns %d", c.addr, c.ino)
		}
	}

	// Picking one namespace reads only that one.
	only, err := sockets.NewCollector().Collect(sockets.Query{NetNS: sockets.NetNSFilter(b.name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Namespaces) != 1 || only.Namespaces[0].Inode != inoB {
		t.Errorf("--netns %s read %+v", b.name, only.Namespaces)
	}
	for _, s := range only.Sockets {
		if s.NetNS != inoB {
			t.Errorf("--netns %s let through a socket of netns %d", b.name, s.NetNS)
		}
	}
	if _, err := sockets.NewCollector().Collect(sockets.Query{NetNS: "no-such-namespace"}); err == nil {
		t.Error("an unknown namespace name was accepted")
	}
}

func statIno(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !sockettest.WaitFor(10e9, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}
