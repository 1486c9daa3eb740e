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
)

// TestLoneEscapesNeverStallInput types bursts in which lone escapes run
// into keys that start escape sequences ("[", "O", "P", "]") with no pause
// between them, as a hurried admin or a lagging SSH link delivers them,
// and then checks the dashboard still takes keys and still refreshes: the
// help opens, a filter is typed, and a listener opened after the burst
// appears. The dashboard must never stop taking keys.
func TestLoneEscapesNeverStallInput(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwesc-%d", os.Getpid()), name: "esc"}
	defer s.tmux("kill-server")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40",
		bin, "--interval", "250ms", "--netns", "self", "--baseline", filepath.Join(dir, "baseline.toml"),
		"--audit-log", filepath.Join(dir, "audit.log")); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the first frame", contains("PROTO"))

	var burst []string
	for i := range 300 {
		burst = append(burst, "Escape", []string{"[", "O", "P", "]", "Escape", "1", "Tab"}[i%7])
	}
	for range 5 {
		s.send(burst...)
	}
	// What follows is typed after the terminal's escape timeout, as a
	// person does; a key right after esc would read as alt+key.
	s.send("Escape")
	s.send("Escape")
	time.Sleep(300 * time.Millisecond) // the pause a person leaves, not a synchronisation
	s.send("1")
	s.send("?")
	s.waitFor("the help after the burst", contains("quit"))
	s.send("?")

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	s.send("/")
	s.send(strings.Split(addr, "")...)
	s.waitFor("the filter typed after the burst", contains("/"+addr))
	s.send("Enter")
	s.waitFor("a listener opened after the burst (refreshing goes on)", contains("1 of ", addr))
	s.quit()
}
