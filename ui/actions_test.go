package ui

import (
	"github.com/portwarden/portwarden/app"

	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

func TestMain(m *testing.M) {
	sockettest.RunIfChild()
	os.Exit(m.Run())
}

// liveHolder starts a real child process holding a loopback listener and
// returns a model showing a real snapshot of it, filtered to that row.
func liveHolder(t *testing.T, b *fixedBackend) (*Model, *sockettest.Holder) {
	t.Helper()
	hs, addr, err := sockettest.HoldListener(1)
	if err != nil {
		t.Fatal(err)
	}
	h := hs[0]
	t.Cleanup(func() { h.Close() })
	b.dir = t.TempDir()
	// Only our own namespace: other packages' tests run alongside and hold
	// loopback ports of their own in namespaces they made.
	snap, err := sockets.NewCollector().Collect(sockets.Query{NetNS: "self"})
	if err != nil {
		t.Fatal(err)
	}
	b.frames = []*app.Inspection{frameOf(snap.Sockets)}
	m := New(Config{Host: "live", Root: true, Color: true, Interval: time.Hour, Admin: "alice", Now: time.Now}, b)
	m = update(t, m, tea_WindowSize(120, 40))
	m = run(t, m, m.Init())
	// The whole address, so no other listener's row can match by chance.
	local := addr.String() + " "
	m = press(t, m, append(append([]string{"/"}, strings.Split(local, "")...), "enter")...)
	if len(m.table().visible) != 1 {
		t.Fatalf("filter to %s: %d rows", local, len(m.table().visible))
	}
	return m, h
}

var running = sockettest.Running

func TestKillThroughTheDialog(t *testing.T) {
	b := &fixedBackend{session: action.Session{Self: os.Getpid()}}
	m, h := liveHolder(t, b)

	m = press(t, m, "k")
	s := screen(m)
	for _, want := range []string{"Kill this process?", "SIGTERM", "pid " + strconv.Itoa(h.PID), "holds    tcp 127.0.0.1:", "y yes"} {
		if !strings.Contains(s, want) {
			t.Errorf("kill dialog lacks %q:\n%s", want, s)
		}
	}
	m = press(t, m, "enter") // anything but y is no
	if !running(h.PID) || !strings.Contains(screen(m), "nothing was done") || m.focused != nil {
		t.Fatalf("the default answer killed, or said nothing:\n%s", screen(m))
	}

	m = press(t, m, "k", "y")
	if running(h.PID) {
		t.Error("confirmed kill left the process running")
	}
	if !strings.Contains(screen(m), "has ended") {
		t.Errorf("result not shown:\n%s", screen(m))
	}
}

func TestOwnSessionNeedsThePIDTyped(t *testing.T) {
	b := &fixedBackend{}
	m, h := liveHolder(t, b)
	b.session = action.Session{Self: os.Getpid(), Ancestors: []origin.Ancestor{{PID: h.PID, Name: "sshd"}}}

	m = press(t, m, "K")
	if s := screen(m); !strings.Contains(s, "sshd serving your own SSH session") || !strings.Contains(s, "type the PID to confirm") {
		t.Fatalf("danger dialog:\n%s", s)
	}
	m = press(t, m, "y", "enter") // y is not the PID
	if !running(h.PID) || !strings.Contains(screen(m), "did not match") {
		t.Fatalf("a wrong PID went through:\n%s", screen(m))
	}
	keys := append([]string{"K"}, strings.Split(strconv.Itoa(h.PID), "")...)
	m = press(t, m, append(keys, "enter")...)
	if running(h.PID) {
		t.Errorf("typed PID, still running:\n%s", screen(m))
	}
}

func TestMarkAndUnmark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.toml")
	b := &fixedBackend{baselinePath: path, session: action.Session{Self: os.Getpid()}}
	m, _ := liveHolder(t, b)
	m = press(t, m, "m")
	if s := screen(m); !strings.Contains(s, "as expected") || !strings.Contains(s, "owner:  alice") {
		t.Fatalf("mark form:\n%s", s)
	}
	m = press(t, m, "enter")
	if !strings.Contains(screen(m), "a reason is required") {
		t.Error("saved without a reason")
	}
	m = press(t, m, "l", "a", "b", "space", "t", "e", "s", "t", "enter")
	base, err := baseline.Load(path)
	if err != nil || len(base.Entries) != 1 {
		t.Fatalf("baseline after mark: %+v %v", base, err)
	}
	e := base.Entries[0]
	if e.Reason != "lab test" || e.Owner != "alice" || e.Proto != "tcp" || e.Bind != "127.0.0.1" || e.Added.IsZero() {
		t.Errorf("entry %+v", e)
	}
	if !strings.Contains(screen(m), "marked tcp/") {
		t.Errorf("no confirmation:\n%s", screen(m))
	}

	// With the mark in a frame, u removes it after a yes.
	snap := *b.frames[0].Snapshot
	a := frameOf(snap.Sockets)
	for i := range a.Judged {
		if e.Covers(a.Judged[i].Socket, baseline.Where{}) {
			a.Judged[i].Verdict.Baseline = &e
		}
	}
	b.frames = append(b.frames, a)
	m = press(t, m, "r", "u")
	if !strings.Contains(screen(m), "Remove this listener from the baseline?") {
		t.Fatalf("unmark dialog:\n%s", screen(m))
	}
	press(t, m, "y")
	if base, _ := baseline.Load(path); len(base.Entries) != 0 {
		t.Errorf("after unmark: %+v", base.Entries)
	}
}

func TestReadOnlyHidesActions(t *testing.T) {
	b := &fixedBackend{frames: []*app.Inspection{frameOf(fixtureSockets())}}
	m := New(Config{Host: "ro", Root: true, ReadOnly: true, Now: func() time.Time { return testNow }}, b)
	m = update(t, m, tea_WindowSize(120, 40))
	m = run(t, m, m.Init())
	m = press(t, m, "j", "k") // k moves up here
	if m.table().cursor != 0 || m.focused != nil {
		t.Errorf("read-only k: cursor %d, dialog %v", m.table().cursor, m.focused)
	}
	m = press(t, m, "m", "K")
	if m.mode != modeNormal || m.focused != nil || strings.Contains(screen(m), "mark") || strings.Contains(screen(m), "kill") {
		t.Errorf("read-only shows or opens actions:\n%s", screen(m))
	}
}

func TestDisableThroughTheDialog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("xinetd needs root")
	}
	x, err := sockettest.StartXinetd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Stop()
	port := x.Port
	listening := func() bool {
		snap, err := sockets.NewCollector().Collect(sockets.Query{ListeningOnly: true, TCP: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snap.Sockets {
			if int(s.Local.Port()) == port {
				return true
			}
		}
		return false
	}
	waitFor(t, "xinetd to listen", listening)

	b := &fixedBackend{session: action.Session{Self: os.Getpid()}, dir: t.TempDir()}
	// Only our own namespace: other packages' tests run alongside and hold
	// loopback ports of their own in namespaces they made.
	snap, err := sockets.NewCollector().Collect(sockets.Query{NetNS: "self"})
	if err != nil {
		t.Fatal(err)
	}
	b.frames = []*app.Inspection{frameOf(snap.Sockets)}
	m := New(Config{Host: "live", Root: true, Color: true, Interval: time.Hour, Now: time.Now}, b)
	m = update(t, m, tea_WindowSize(120, 40))
	m = run(t, m, m.Init())
	m = press(t, m, append(append([]string{"/"}, strings.Split(strconv.Itoa(port), "")...), "enter")...)

	m = press(t, m, "d")
	s := screen(m)
	for _, want := range []string{"Disable the service behind tcp 127.0.0.1:" + strconv.Itoa(port), "xinetd service echo",
		"1. set \"disable = yes\" in service echo of " + x.ServiceFile, "2. reload xinetd"} {
		if !strings.Contains(s, want) {
			t.Errorf("disable dialog lacks %q:\n%s", want, s)
		}
	}
	m = press(t, m, "n")
	if b, _ := os.ReadFile(x.ServiceFile); string(b) != x.Service {
		t.Fatal("answering no changed the service file")
	}

	// Were this the listener the admin's SSH session came in through, y
	// is not enough: the PID must be typed.
	b.session.SSHServer = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	m = press(t, m, "d")
	if s := screen(m); !strings.Contains(s, "DANGER: this is the SSH listener") || !strings.Contains(s, fmt.Sprintf("type the PID %d (xinetd)", x.PID())) {
		t.Fatalf("danger dialog:\n%s", s)
	}
	m = press(t, m, "y", "enter")
	if b, _ := os.ReadFile(x.ServiceFile); string(b) != x.Service || !strings.Contains(screen(m), "did not match") {
		t.Fatalf("y went through a dialog that needs the PID:\n%s", screen(m))
	}
	b.session.SSHServer = netip.AddrPort{}

	m = press(t, m, "d", "y")
	if !strings.Contains(screen(m), "disabled xinetd service echo") {
		t.Errorf("result not shown:\n%s", screen(m))
	}
	waitFor(t, "the port to go", func() bool { return !listening() })
}

// waitFor fails the test unless cond holds within 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !sockettest.WaitFor(10*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}
