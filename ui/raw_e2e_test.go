package ui_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestRawViewInTmux runs the real dashboard in tmux beside a packet
// socket waiting for a magic packet, in a namespace of the test's own:
// 7 lists it as MAGIC, signed critical, and its detail decodes the
// filter and names the trigger.
func TestRawViewInTmux(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwrawui")
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	sockettest.MagicDoorForTest(t, ns.Name)
	s := &tmuxSession{t: t, socket: fmt.Sprintf("pwraw-%d", os.Getpid()), name: "raw"}
	defer s.tmux("kill-server")
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40", bin, "--interval", "300ms",
		"--netns", ns.Name, "--baseline", filepath.Join(dir, "b.toml"), "--audit-log", filepath.Join(dir, "audit.log")); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	s.waitFor("the dashboard", contains("portwarden", "7 Raw"))
	s.send("7")
	s.waitFor("the packet socket's row", contains("[7 Raw]", "packet", "MAGIC", "python3", "SIGN crit"))
	s.send("Enter")
	s.waitFor("its detail", contains("ldx 4*([14]&0xf)", "!! Trigger", "equal 0x7255", "magic-packet-filter"))
	s.quit()
}
