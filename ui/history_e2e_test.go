package ui_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestHistoryViewWithARealRecorder runs the recorder and the dashboard,
// both the real binary: a listener that lived 300 ms shows in the History
// view with its process, and a live listener's details say since when the
// recorder has seen it.
func TestHistoryViewWithARealRecorder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the recorder loads eBPF as root")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	db := filepath.Join(dir, "history.db")
	var recOut bytes.Buffer
	rec := exec.Command(bin, "record", "--db", db)
	rec.Stdout, rec.Stderr = &recOut, &recOut
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		rec.Process.Signal(syscall.SIGTERM) // the recorder this test started
		rec.Wait()
	}()
	if !sockettest.WaitFor(15*time.Second, func() bool {
		out, _ := exec.Command(bin, "history", "--db", db, "--stats", "--json").Output()
		return bytes.Contains(out, []byte(`"last_commit":"2`))
	}) {
		t.Fatalf("the recorder never committed: %s", recOut.String())
	}

	brief, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	briefPort := strconv.Itoa(brief.Addr().(*net.TCPAddr).Port)
	time.Sleep(300 * time.Millisecond) // how long the listener lives, not a wait for anything
	brief.Close()
	kept, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	keptAddr := kept.Addr().String()

	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwhist-%d", os.Getpid()), name: "hist"}
	defer s.tmux("kill-server")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "140", "-y", "40",
		bin, "--interval", "250ms", "--netns", "self", "--history-db", db, "--baseline", filepath.Join(dir, "baseline.toml"),
		"--audit-log", filepath.Join(dir, "audit.log")); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the first frame", contains("PROTO"))
	s.send("6")
	s.send("/")
	s.send(strings.Split(briefPort, "")...)
	s.send("Enter")
	s.waitFor("the brief listener in the History view", func(screen string) bool {
		for _, line := range strings.Split(screen, "\n") {
			if strings.Contains(line, "127.0.0.1:"+briefPort) && strings.Contains(line, "listen") &&
				strings.Contains(line, "ms") && strings.Contains(line, "ui.test") {
				return true
			}
		}
		return false
	})
	s.send("1")
	s.send("/") // the filter typed before, edited: clear it with backspaces
	for range len(briefPort) {
		s.send("BSpace")
	}
	s.send(strings.Split(keptAddr, "")...)
	s.send("Enter")
	s.send("Enter")
	s.waitFor("since when the recorder has seen the live listener", contains(keptAddr, "Recorded", "open since"))
	s.quit()
}
