package action

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

func TestMain(m *testing.M) {
	sockettest.RunIfChild()
	os.Exit(m.Run())
}

// holder starts a child holding a fresh loopback listener.
func holder(t *testing.T) (*sockettest.Holder, netip.AddrPort) {
	t.Helper()
	hs, addr, err := sockettest.HoldListener(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs[0].Close() })
	return hs[0], addr
}

func snapshot(t *testing.T) *sockets.Snapshot {
	t.Helper()
	// Our own namespace only: tests of other packages hold loopback ports
	// in namespaces of their own, and one may share our port number.
	snap, err := sockets.NewCollector().Collect(sockets.Query{NetNS: "self"})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func targetOf(t *testing.T, pid int) Target {
	t.Helper()
	tg, err := TargetFromProc("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

var alive = sockettest.Running

func TestSignalEndsTheProcessSeen(t *testing.T) {
	h, addr := holder(t)
	targets, err := Resolve(snapshot(t), "tcp/"+addr.String())
	if err != nil || len(targets) != 1 || targets[0].PID != h.PID {
		t.Fatalf("resolve %s: %v %v, want the holder %d", addr, targets, err, h.PID)
	}
	danger, err := Session{Self: os.Getpid()}.Check("/proc", targets[0], nil)
	if err != nil || danger != "" {
		t.Fatalf("check: %q %v", danger, err)
	}
	exit, err := Signal("/proc", targets[0], syscall.SIGTERM)
	if err != nil {
		t.Fatal(err)
	}
	defer exit.Close()
	if !exit.Wait(5 * time.Second) {
		t.Fatal("the holder did not end within 5s of SIGTERM")
	}
	if alive(h.PID) {
		t.Error("Wait said it ended, /proc says it runs")
	}
	if _, err := Signal("/proc", targets[0], syscall.SIGTERM); !errors.Is(err, ErrGone) && !errors.Is(err, ErrReused) {
		t.Errorf("signalling an ended process: %v, want ErrGone", err)
	}
}

// TestPIDReuseGuard: a target whose start time differs from the process
// now at its PID is what a recycled PID looks like; nothing is sent.
func TestPIDReuseGuard(t *testing.T) {
	h, _ := holder(t)
	seen := targetOf(t, h.PID)
	recycled := seen
	recycled.StartTicks--
	if _, err := Signal("/proc", recycled, syscall.SIGKILL); !errors.Is(err, ErrReused) {
		t.Fatalf("signal with a stale start time: %v, want ErrReused", err)
	}
	if _, err := (Session{Self: os.Getpid()}).Check("/proc", recycled, nil); !errors.Is(err, ErrReused) {
		t.Errorf("check with a stale start time: %v", err)
	}
	if !alive(h.PID) {
		t.Fatal("the process at the recycled PID was hit")
	}
}

func TestRefusalsAndDangers(t *testing.T) {
	s := Session{Self: os.Getpid()}
	refused := func(what string, tg Target) {
		t.Helper()
		var r *Refusal
		if _, err := s.Check("/proc", tg, nil); !errors.As(err, &r) {
			t.Errorf("%s: %v, want a refusal", what, err)
		}
	}
	refused("PID 1", Target{PID: 1})
	refused("portwarden itself", targetOf(t, os.Getpid()))
	if kt := kernelThread(); kt > 0 {
		refused("kernel thread "+strconv.Itoa(kt), targetOf(t, kt))
	} else {
		t.Error("no kernel thread visible in /proc to test with")
	}

	// A real shell standing where portwarden's parent shell would be.
	sh := exec.Command("sh", "-c", "read x")
	in, _ := sh.StdinPipe()
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); sh.Wait() }()
	shell := targetOf(t, sh.Process.Pid)
	s.Ancestors = []origin.Ancestor{{PID: 4242, Name: "sudo"}, {PID: shell.PID, Name: "sh"}}
	refused("the shell portwarden was started from", shell)

	// The same process as the sshd serving the session: allowed only
	// with a loud warning.
	s.Ancestors = []origin.Ancestor{{PID: 4242, Name: "bash"}, {PID: shell.PID, Name: "sshd"}}
	danger, err := s.Check("/proc", shell, nil)
	if err != nil || !strings.Contains(danger, "sshd serving your own SSH session") {
		t.Errorf("own sshd: %q %v", danger, err)
	}

	// The listener the admin's SSH connection came in through.
	h, addr := holder(t)
	s = Session{Self: os.Getpid(), SSHServer: addr}
	danger, err = s.Check("/proc", targetOf(t, h.PID), snapshot(t))
	if err != nil || !strings.Contains(danger, "your own SSH session came in through") {
		t.Errorf("own sshd listener: %q %v", danger, err)
	}
}

// kernelThread finds a kernel thread in /proc.
func kernelThread() int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 {
			continue
		}
		if st, err := readStat("/proc", pid); err == nil && st.flags&pfKthread != 0 {
			return pid
		}
	}
	return 0
}

func TestResolve(t *testing.T) {
	h, addr := holder(t)
	// Two processes sharing one listener, as a pre-forked server does, on
	// a port of its own: the kernel may give [::1] the port 127.0.0.1 has.
	var ln *net.TCPListener
	for ln == nil || ln.Addr().(*net.TCPAddr).Port == int(addr.Port()) {
		if ln != nil {
			ln.Close()
		}
		var err error
		if ln, err = net.ListenTCP("tcp6", &net.TCPAddr{IP: net.IPv6loopback}); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := ln.File()
	a, err := sockettest.Hold(f)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sockettest.Hold(f)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f.Close()
	ln.Close()
	shared := ln.Addr().(*net.TCPAddr).AddrPort()
	snap := snapshot(t)

	port := strconv.Itoa(int(addr.Port()))
	for _, arg := range []string{strconv.Itoa(h.PID), "tcp/" + port, ":" + port, addr.String(), "tcp/" + addr.String()} {
		got, err := Resolve(snap, arg)
		if err != nil || len(got) != 1 || got[0].PID != h.PID {
			t.Errorf("Resolve(%q) = %v, %v; want the holder %d", arg, got, err, h.PID)
		}
	}
	got, err := Resolve(snap, "tcp/"+shared.String())
	want := []int{a.PID, b.PID}
	slices.Sort(want)
	if !errors.Is(err, ErrAmbiguous) || len(got) != 2 || got[0].PID != want[0] || got[1].PID != want[1] {
		t.Errorf("shared listener: %v %v, want both %v and ErrAmbiguous", got, err, want)
	}
	for _, bad := range []string{"udp/" + port, "sctp/22", "tcp/70000", "nope", "tcp/not-an-ip:22"} {
		if got, err := Resolve(snap, bad); err == nil {
			t.Errorf("Resolve(%q) = %v, want an error", bad, got)
		}
	}
}

func TestComesBack(t *testing.T) {
	if got := ComesBack(origin.Info{Inetd: "xinetd (pid 20)"}); !strings.Contains(got, "xinetd (pid 20)") || !strings.Contains(got, "disable") {
		t.Errorf("inetd child: %q", got)
	}
	if got := ComesBack(origin.Info{}); got != "" {
		t.Errorf("plain process: %q", got)
	}
}

func TestDisableDanger(t *testing.T) {
	listener := func(addr string, pids ...int) *sockets.Socket {
		s := &sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort(addr)}
		for _, pid := range pids {
			s.Processes = append(s.Processes, &sockets.Process{PID: pid, Name: "sshd"})
		}
		return s
	}
	overSSH := Session{Self: 10, Ancestors: []origin.Ancestor{{PID: 9, Name: "bash"}, {PID: 8, Name: "sshd"}},
		SSHServer: netip.MustParseAddrPort("192.0.2.5:22")}
	for _, c := range []struct {
		what string
		s    Session
		sock *sockets.Socket
		want string
	}{
		{"the session's listener on every address", overSSH, listener("0.0.0.0:22", 700), "SSH listener (port 22)"},
		{"the session's listener on its address", overSSH, listener("192.0.2.5:22", 700), "SSH listener (port 22)"},
		{"another address's listener", overSSH, listener("127.0.0.1:22", 700), ""},
		{"another port", overSSH, listener("0.0.0.0:2222", 700), ""},
		{"held by the sshd serving the session", overSSH, listener("127.0.0.1:2222", 8), "parent of this portwarden"},
		{"not over SSH", Session{Self: 10}, listener("0.0.0.0:22", 700), ""},
	} {
		if got := c.s.DisableDanger(c.sock); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.what, got, c.want)
		}
	}
}
