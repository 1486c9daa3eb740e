package ui_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestDashboardBlocksAndCloses drives the real dashboard in tmux, inside
// the server namespace of a firewall bed: b on the public client's
// connection blocks the peer for 10 minutes (its new connections fail,
// the internal client's still work) and marks the row BLOCKED; x closes
// the connection, which the client sees cut.
func TestDashboardBlocksAndCloses(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is required (scripts/test.sh installs it)")
	}
	bed := sockettest.FirewallBedForTest(t)
	// A server that keeps what it accepts open, on the server's wildcard,
	// and echoes what it first reads.
	var ln net.Listener
	if err := bed.Server.Do(func() (err error) { ln, err = net.Listen("tcp4", "0.0.0.0:9401"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var held []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			go func() { // answers a probe, and keeps the connection open
				buf := make([]byte, 64)
				if n, err := c.Read(buf); err == nil {
					c.Write(buf[:n])
				}
			}()
		}
	}()
	to := netip.AddrPortFrom(bed.ServerPublic4, 9401)
	var client net.Conn
	if err := bed.Public.Do(func() (err error) { client, err = net.Dial("tcp4", to.String()); return err }); err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	peer := client.LocalAddr().(*net.TCPAddr).AddrPort().Addr().String()

	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	auditLog := filepath.Join(dir, "audit.log")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwblock-%d", os.Getpid()), name: "dash"}
	defer s.tmux("kill-server")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40",
		"ip", "netns", "exec", bed.Server.Name, bin, "--netns", "self", "--interval", "300ms",
		"--baseline", filepath.Join(dir, "baseline.toml"), "--audit-log", auditLog); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the dashboard", contains("Listeners", "0.0.0.0:9401"))
	s.send("2", "/")
	s.send(strings.Split(peer, "")...)
	s.send("Enter")
	s.waitFor("the client's connection", contains(peer, "EXTERNAL", "1 of"))

	s.send("b")
	s.waitFor("the block dialog", contains("Block "+peer+"?", "1 for 10 minutes", "[x] also close the 1 open connections"))
	s.send("c")
	s.waitFor("closing toggled off", contains("[ ] also close"))
	s.send("1")
	s.waitFor("the block", contains("blocked "+peer+" for"))
	s.waitFor("the row marked", contains("BLOCKED"))
	if sockettest.Probe(bed.Public, "tcp", to, 300*time.Millisecond) {
		t.Error("the blocked peer still connects")
	}
	if !sockettest.Probe(bed.Internal, "tcp", netip.AddrPortFrom(bed.ServerInternal4, 9401), time.Second) {
		t.Error("the internal client no longer connects")
	}

	s.send("x")
	s.waitFor("the close dialog", contains("Close this connection?", peer, "keeps running"))
	s.send("y")
	s.waitFor("the connection closed", contains("closed "+bed.ServerPublic4.String()+":9401-"+peer))
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("the client's connection was not cut: %v", err)
	}
	s.quit()

	b, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"action":"block"`) || !strings.Contains(string(b), `"action":"close"`) {
		t.Errorf("audit log:\n%s", b)
	}
}
