package ui_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestDashboardUnderRaceDetector builds the real binary with -race, opens
// it in tmux over a population of thousands of sockets, presses r before
// the first frame, then for twenty seconds refreshes, opens and declines
// the kill dialog, switches views, opens details, filters and opens the
// mark form — and finds no race report and a clean quit. No key it sends
// can confirm an action: every dialog's answer is no unless y is pressed.
func TestDashboardUnderRaceDetector(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reads every process's sockets as root")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "portwarden-race")
	if out, err := exec.Command("go", "build", "-race", "-o", bin, "github.com/portwarden/portwarden").CombinedOutput(); err != nil {
		t.Fatalf("go build -race: %v\n%s", err, out)
	}
	pop, err := sockettest.Start(sockettest.Config{Conns: 2000, Procs: 10, V6: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()

	raceLog, exitFile := filepath.Join(dir, "race"), filepath.Join(dir, "exit")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwrace-%d", os.Getpid()), name: "race"}
	defer s.tmux("kill-server")
	script := `GORACE="log_path=$1 halt_on_error=1" "$0" --interval 250ms --baseline "$2" --audit-log "$3"; echo $? >"$4"`
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40", "sh", "-c", script,
		bin, raceLog, filepath.Join(dir, "baseline.toml"), filepath.Join(dir, "audit.log"), exitFile); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	reports := func() {
		t.Helper()
		races, _ := filepath.Glob(raceLog + "*")
		for _, f := range races {
			b, _ := os.ReadFile(f)
			t.Errorf("race report %s:\n%s", f, b)
		}
		if len(races) > 0 {
			t.FailNow()
		}
	}
	s.send("r") // before the first frame: the first collection is in flight
	gone := func() bool { _, err := s.tmux("has-session", "-t", s.name); return err != nil }
	sockettest.WaitFor(15*time.Second, func() bool { return gone() || strings.Contains(s.capture(), "listening") })
	reports()
	s.waitFor("the first frame", contains("listening", "PROTO"))

	rounds := [][]string{{"r"}, {"k"}, {"n"}, {"Tab"}, {"Enter"}, {"r", "r"}, {"/", "1", "2", "7"}, {"Escape"},
		{"m"}, {"Escape"}, {"Escape"}, {"1"}}
	pace := time.NewTicker(60 * time.Millisecond) // how fast an admin types; not a synchronisation
	defer pace.Stop()
	for end, i := time.Now().Add(20*time.Second), 0; time.Now().Before(end); i++ {
		<-pace.C
		round := rounds[i%len(rounds)]
		s.send(round...)
		if round[0] == "Escape" {
			// A key right after esc reads as alt+key: type the next one
			// after the terminal's escape timeout, as a person does.
			<-pace.C
			<-pace.C
			<-pace.C
		}
		if gone() {
			break
		}
	}
	reports()
	// ctrl+c quits from whatever is open (an esc followed at once by q
	// would read as alt+q).
	s.send("C-c")
	if !sockettest.WaitFor(10*time.Second, gone) {
		t.Fatalf("ctrl+c did not quit:\n%s", s.capture())
	}
	reports()
	if b, err := os.ReadFile(exitFile); err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Errorf("the dashboard did not quit cleanly: exit %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "audit.log")); err == nil {
		t.Errorf("declined dialogs still acted:\n%s", b)
	}
}

// TestPasteIntoMarkForm pastes the reason into the mark form, as an admin
// pastes a ticket reference, through tmux's bracketed paste.
func TestPasteIntoMarkForm(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	base := filepath.Join(dir, "baseline.toml")

	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwpaste-%d", os.Getpid()), name: "paste"}
	defer s.tmux("kill-server")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40",
		bin, "--interval", "1s", "--baseline", base, "--audit-log", filepath.Join(dir, "audit.log")); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the listener", contains(addr))
	s.send("/")
	s.send(strings.Split(addr, "")...)
	s.send("Enter")
	s.waitFor("the filter", contains("1 of "))
	s.send("m")
	s.waitFor("the mark form", contains("reason:"))

	const reason = "ticket OPS-1234: lab service, see wiki"
	if out, err := s.tmux("set-buffer", "-b", "pw", reason); err != nil {
		t.Fatalf("set-buffer: %v %s", err, out)
	}
	if out, err := s.tmux("paste-buffer", "-p", "-b", "pw", "-t", s.name); err != nil {
		t.Fatalf("paste-buffer: %v %s", err, out)
	}
	s.waitFor("the pasted reason", contains(reason))
	s.send("Enter")
	s.waitFor("the mark to be saved", contains("marked tcp/"))
	s.quit()

	b, err := baseline.Load(base)
	if err != nil || len(b.Entries) != 1 || b.Entries[0].Reason != reason {
		t.Fatalf("baseline after a pasted reason: %+v %v", b, err)
	}
}
