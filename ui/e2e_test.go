package ui_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// tmuxSession drives the real binary in a tmux server of its own.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxSession) send(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("send-keys %v: %v %s", keys, err, out)
	}
}

func (s *tmuxSession) capture() string {
	out, _ := s.tmux("capture-pane", "-p", "-t", s.name)
	return out
}

// waitFor polls the screen until ok says so, or fails after a deadline.
func (s *tmuxSession) waitFor(what string, ok func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen := s.capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen)
		}
		time.Sleep(50 * time.Millisecond) // polling the screen, with a deadline above
	}
}

// buildPortwarden builds the real binary into dir.
func buildPortwarden(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "portwarden")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/portwarden/portwarden").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// quit presses q and waits for the dashboard to end, and its tmux
// session with it.
func (s *tmuxSession) quit() {
	s.t.Helper()
	s.send("q")
	if !sockettest.WaitFor(10*time.Second, func() bool { _, err := s.tmux("has-session", "-t", s.name); return err != nil }) {
		s.t.Fatalf("q did not quit:\n%s", s.capture())
	}
}

func contains(words ...string) func(string) bool {
	return func(screen string) bool {
		for _, w := range words {
			if !strings.Contains(screen, w) {
				return false
			}
		}
		return true
	}
}

func TestDashboardInTmux(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	peer, err := sockettest.NewExternalPeer(netip.MustParsePrefix("198.51.100.128/25"), netip.MustParsePrefix("2001:db8:101::/64"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := peer.Close(); err != nil {
			t.Error(err)
		}
	}()

	// Inside the namespace: telnet on every interface (safe there), a
	// loopback-only listener, and a listener the host connects to, which
	// from inside is an inbound connection from an external address.
	var listeners []net.Listener
	err = peer.Do(func() error {
		for _, addr := range []string{"0.0.0.0:23", "127.0.0.1:6379", netip.AddrPortFrom(peer.Peer4, 2222).String()} {
			ln, err := net.Listen("tcp4", addr)
			if err != nil {
				return err
			}
			listeners = append(listeners, ln)
		}
		return nil
	})
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	// A child process holds one more listener in the namespace: the one
	// the test kills through the dialog.
	var victimFile *os.File
	if err := peer.Do(func() error {
		ln, err := net.Listen("tcp4", "127.0.0.1:7777")
		if err != nil {
			return err
		}
		defer ln.Close()
		victimFile, err = ln.(*net.TCPListener).File()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	victim, err := sockettest.Hold(victimFile)
	victimFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()

	conn, err := net.Dial("tcp4", listeners[2].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwtest-%d", os.Getpid()), name: "dash"}
	defer s.tmux("kill-server")
	base := filepath.Join(dir, "baseline.toml")
	auditLog := filepath.Join(dir, "audit.log")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40",
		"ip", "netns", "exec", peer.Name, bin, "--netns", "self", "--interval", "300ms", "--baseline", base, "--audit-log", auditLog); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}

	screen := s.waitFor("the listeners", contains("0.0.0.0:23 *", "telnet", "UNEXPECTED crit", "127.0.0.1:6379", "4 listening", "1 external"))
	if !strings.Contains(screen, "[1 Listeners]") {
		t.Errorf("listeners view is not the default:\n%s", screen)
	}

	s.send("2")
	s.waitFor("the external connection", contains("[2 Connections]", peer.Host4.String(), "EXTERNAL"))
	// At 80 columns the peer's port, what an admin needs, is never cut.
	if _, err := s.tmux("resize-window", "-t", s.name, "-x", "80", "-y", "24"); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the peer's whole address at 80x24", contains(conn.LocalAddr().String(), "ESTAB"))
	if _, err := s.tmux("resize-window", "-t", s.name, "-x", "120", "-y", "40"); err != nil {
		t.Fatal(err)
	}

	s.send("1", "/", "t", "e", "l", "n", "e", "t", "Enter")
	screen = s.waitFor("the filter", contains("filter: telnet", "1 of 4 rows"))
	if n := strings.Count(screen, "LISTEN"); n != 1 {
		t.Errorf("filter left %d listener rows:\n%s", n, screen)
	}

	s.send("Enter")
	s.waitFor("the detail pane", contains("Telnet remote login", "Bound to 0.0.0.0", "Reachable from the Internet", "not in baseline"))
	s.send("C-d")
	s.waitFor("the detail pane's process", contains(fmt.Sprintf("(pid %d)", os.Getpid())))
	s.send("C-u")
	s.waitFor("the detail pane's top", contains("Telnet remote login"))

	// esc closes what is open: the detail pane, then the filter.
	s.send("Escape")
	s.waitFor("the detail pane to close", func(screen string) bool {
		return !strings.Contains(screen, "Telnet remote login") && strings.Contains(screen, "filter: telnet")
	})
	s.send("Escape")
	s.waitFor("the filter to clear", func(screen string) bool { return !strings.Contains(screen, "filter: telnet") })
	if _, err := s.tmux("resize-window", "-t", s.name, "-x", "60", "-y", "15"); err != nil {
		t.Fatal(err)
	}
	screen = s.waitFor("the 60x15 layout", func(screen string) bool {
		lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
		return len(lines) == 15 && strings.Contains(screen, "4 listening") && strings.Contains(screen, "telnet") &&
			!strings.Contains(screen, "What")
	})
	for _, l := range strings.Split(screen, "\n") {
		if w := len([]rune(l)); w > 60 {
			t.Errorf("line of %d columns at 60 wide: %q", w, l)
		}
	}
	s.tmux("resize-window", "-t", s.name, "-x", "120", "-y", "40")
	s.waitFor("the 120x40 layout again", contains("0.0.0.0:23 *", "UNEXPECTED crit", "[1 Listeners]"))

	// Mark telnet as expected through the form: the row says so at once.
	s.send("m")
	s.waitFor("the mark form", contains("Mark tcp/23 on 0.0.0.0", "reason:"))
	s.send("legacy switch config", "Enter")
	s.waitFor("the marked row", contains("marked tcp/23", "expected"))
	if b, err := os.ReadFile(base); err != nil || !strings.Contains(string(b), `reason = "legacy switch config"`) {
		t.Errorf("baseline after marking: %v\n%s", err, b)
	}

	// Kill the child holding 127.0.0.1:7777 through the dialog.
	s.send("/", "7", "7", "7", "7", "Enter")
	s.waitFor("the victim's row", contains("filter: 7777", "1 of 4 rows"))
	s.send("k")
	s.waitFor("the kill dialog", contains("Kill this process?", fmt.Sprintf("pid %d", victim.PID), "holds    tcp 127.0.0.1:7777 LISTEN"))
	s.send("y")
	s.waitFor("the kill's result", contains("has ended"))
	deadline := time.Now().Add(10 * time.Second)
	for sockettest.Running(victim.PID) {
		if time.Now().After(deadline) {
			t.Fatal("the victim still runs")
		}
		time.Sleep(50 * time.Millisecond) // polling /proc, with a deadline
	}
	if b, err := os.ReadFile(auditLog); err != nil || !strings.Contains(string(b), `"action":"kill"`) ||
		!strings.Contains(string(b), fmt.Sprintf(`"pid":%d`, victim.PID)) || !strings.Contains(string(b), `"action":"mark"`) {
		t.Errorf("audit log: %v\n%s", err, b)
	}

	s.quit()
}

// TestDashboardOverSSH runs the dashboard inside a real SSH session (a key
// login to a real sshd, in tmux): killing the sshd that session came
// through needs the PID typed, and a wrong PID does nothing.
func TestDashboardOverSSH(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sshd needs root")
	}
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	sshd, err := sockettest.StartSSHD(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sshd.Stop()
	login := sshd.SSH(false, "true")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command(login[0], login[1:]...).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("no SSH login within 10s")
		}
		time.Sleep(50 * time.Millisecond) // polling the daemon, with a deadline
	}

	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwssh-%d", os.Getpid()), name: "ssh"}
	defer s.tmux("kill-server")
	args := append([]string{"new-session", "-d", "-s", s.name, "-x", "120", "-y", "40"},
		sshd.SSH(true, bin, "--interval", "300ms", "--baseline", filepath.Join(dir, "b.toml"), "--audit-log", filepath.Join(dir, "audit.log"))...)
	if out, err := s.tmux(args...); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	port := strconv.Itoa(sshd.Port)
	s.waitFor("the dashboard", contains("portwarden", "listening"))
	s.send(append(append([]string{"/"}, strings.Split(port, "")...), "Enter")...)
	s.waitFor("the sshd row", contains("filter: "+port, "sshd"))
	s.send("k")
	s.waitFor("the danger dialog", contains("DANGER", "your own SSH session", "type the PID to confirm"))
	s.send("1", "Enter")
	s.waitFor("the refusal", contains("did not match", "nothing was done"))
	if !sockettest.Running(sshd.PID()) {
		t.Fatal("the session's sshd was killed")
	}
	s.quit()
}

// TestDashboardDisablesSystemdUnit runs the dashboard inside a real
// systemd booted in namespaces of its own, and disables a unit's listener
// through the d dialog: the port goes, and systemd says the unit is
// disabled.
func TestDashboardDisablesSystemdUnit(t *testing.T) {
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	box := sockettest.SystemdForTest(t, t.TempDir(), map[string]string{"pwtest-web.service": `[Unit]
Description=portwarden test web server
DefaultDependencies=no
[Service]
ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 8080
Restart=always
[Install]
WantedBy=multi-user.target
`})
	if _, err := box.Systemctl("enable", "--now", "pwtest-web.service"); err != nil {
		t.Fatal(err)
	}

	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwbox-%d", os.Getpid()), name: "box"}
	defer s.tmux("kill-server")
	auditLog := filepath.Join(dir, "audit.log")
	dash := box.Command(bin, "--interval", "300ms", "--baseline", filepath.Join(dir, "b.toml"), "--audit-log", auditLog)
	if out, err := s.tmux(append([]string{"new-session", "-d", "-s", s.name, "-x", "120", "-y", "40"}, dash.Args...)...); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the unit's listener", contains("127.0.0.1:8080", "python3"))
	s.send("/", "8", "0", "8", "0", "Enter")
	s.waitFor("the row alone", contains("filter: 8080", "1 of "))
	s.send("d")
	s.waitFor("the disable dialog", contains("Disable the service behind tcp 127.0.0.1:8080?", "systemd unit pwtest-web.service",
		"1. stop pwtest-web.service", "2. disable pwtest-web.service", "portwarden disable --mask tcp/127.0.0.1:8080"))
	s.send("y")
	s.waitFor("the result", contains("disabled systemd unit pwtest-web.service"))
	s.waitFor("the row marked gone", func(screen string) bool {
		for l := range strings.Lines(screen) {
			if strings.Contains(l, "127.0.0.1:8080") && strings.HasPrefix(strings.TrimSpace(l), "-") {
				return true
			}
		}
		return false
	})
	if state, _ := box.Command("systemctl", "is-enabled", "pwtest-web.service").Output(); strings.TrimSpace(string(state)) != "disabled" {
		t.Errorf("systemctl is-enabled pwtest-web.service = %q", state)
	}
	if b, err := os.ReadFile(auditLog); err != nil || !strings.Contains(string(b), `"action":"disable"`) ||
		!strings.Contains(string(b), `"unit":"pwtest-web.service"`) || !strings.Contains(string(b), `"result":"done"`) {
		t.Errorf("audit log: %v\n%s", err, b)
	}
	s.quit()
}
