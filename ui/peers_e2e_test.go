package ui_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestDashboardPeersView drives the real dashboard in tmux, inside the
// server namespace of a firewall bed, while a recorder runs on the host:
// the public client SYN-scans the server with real nmap, fails two
// passwords against a real sshd and holds a third connection without
// logging in. The Peers view (8) shows it first, TRYING, with its scan,
// failures and pre-authentication connection; its details tell the
// story; b blocks it from there, and the row then reads it banned by
// portwarden.
func TestDashboardPeersView(t *testing.T) {
	for _, bin := range []string{"tmux", "nmap"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (scripts/test.sh installs it)", bin)
		}
	}
	bed := sockettest.FirewallBedForTest(t)
	auth := sockettest.AuthBedForTest(t, bed.Server, bed.ServerPublic4, sockettest.AuthBedOptions{})
	attacker, _ := bed.ClientAddrs()
	peer := attacker[0].String()

	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	db := filepath.Join(dir, "history.db")
	recorder := exec.Command(bin, "record", "--db", db)
	if err := recorder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { recorder.Process.Kill(); recorder.Wait() }() // the PID this test started
	if !sockettest.WaitFor(15*time.Second, func() bool {
		out, err := exec.Command(bin, "history", "--db", db, "--stats", "--json").Output()
		var s struct {
			LastCommit string `json:"last_commit"`
		}
		return err == nil && json.Unmarshal(out, &s) == nil && s.LastCommit != ""
	}) {
		t.Fatal("the recorder never committed")
	}

	if err := bed.Public.Run("nmap", "-sS", "-Pn", "-n", "-T5", "--max-retries", "0", "-p", "1-300", bed.ServerPublic4.String()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := auth.FailPassword(bed.Public, netip.Addr{}, "root"); err != nil {
			t.Fatal(err)
		}
	}
	var held net.Conn
	if err := bed.Public.Do(func() (err error) {
		held, err = net.Dial("tcp4", netip.AddrPortFrom(bed.ServerPublic4, uint16(auth.Port)).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	auditLog := filepath.Join(dir, "audit.log")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwpeers-%d", os.Getpid()), name: "dash"}
	defer s.tmux("kill-server")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40",
		"ip", "netns", "exec", bed.Server.Name, bin, "--netns", "self", "--interval", "300ms", "--history-db", db,
		"--auth-log", auth.AuthLog, "--geoip-dir", dir, "--no-dns",
		"--baseline", filepath.Join(dir, "baseline.toml"), "--audit-log", auditLog); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the dashboard", contains("Listeners"))
	s.send("8")
	screen := s.waitFor("the attacker first in the Peers view", func(screen string) bool {
		for _, line := range strings.Split(screen, "\n") {
			if strings.Contains(line, peer) {
				return strings.Contains(line, "300 ports") && strings.Contains(line, "TRYING") && strings.Contains(line, " 2 ")
			}
		}
		return false
	})
	if !strings.Contains(screen, "[8 Peers]") {
		t.Errorf("the Peers tab is not the active one:\n%s", screen)
	}
	s.send("Enter")
	s.waitFor("its story", contains("syn scan of 300 closed ports", "2 failed sshd logins as root", "1 SSH connection with nobody logged in"))
	s.send("b")
	s.waitFor("the block dialog", contains("Block "+peer+"?"))
	s.send("1")
	s.waitFor("the block", contains("blocked "+peer+" for"))
	s.waitFor("the ban in the row", func(screen string) bool {
		for _, line := range strings.Split(screen, "\n") {
			if strings.Contains(line, peer) {
				return strings.Contains(line, "portwarden") && strings.Contains(line, "banned")
			}
		}
		return false
	})
	if sockettest.Probe(bed.Public, "tcp", netip.AddrPortFrom(bed.ServerPublic4, uint16(auth.Port)), 300*time.Millisecond) {
		t.Error("the blocked attacker still connects")
	}
	s.quit()
}
