package ui_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestDashboardShowsContainers opens the real dashboard beside a real
// Docker engine: a container's listener is found by the container's name,
// shows it in WHERE, and the detail pane explains the container, its
// namespace and that nothing publishes the port.
func TestDashboardShowsContainers(t *testing.T) {
	d := sockettest.DockerForTest(t, netip.MustParsePrefix("198.51.100.209/28"))
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	if _, err := d.Run("run", "-d", "--name", "pwdb1", "--stop-timeout", "1", d.Image, "/bin/busybox", "nc", "-ll", "-p", "5432", "-e", "/bin/sh"); err != nil {
		t.Fatal(err)
	}

	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwctr-%d", os.Getpid()), name: "ctr"}
	defer s.tmux("kill-server")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "140", "-y", "40", "env", "DOCKER_HOST=unix://"+d.Socket,
		bin, "--interval", "300ms", "--read-only", "--baseline", filepath.Join(dir, "b.toml"), "--audit-log", filepath.Join(dir, "audit.log")); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the first frame", contains("listening"))
	s.send("/")
	s.send(strings.Split("pwdb1", "")...)
	s.send("Enter")
	screen := s.waitFor("the container's listener", contains("[::]:5432", "pwdb1", "1 of "))
	if !strings.Contains(screen, "WHERE") {
		t.Errorf("no WHERE column at 140 columns:\n%s", screen)
	}
	s.send("Enter")
	s.waitFor("the detail pane", contains("container pwdb1 (docker", "image "+d.Image, "own network namespace", "not published on the host"))
	// By container: one row per container, its unpublished port internal.
	s.send("Enter", "5")
	s.waitFor("the Containers view", contains("[5 Containers]", "CONTAINER", "pwdb1", "busyb", "tcp/5432"))
	s.quit()
}
