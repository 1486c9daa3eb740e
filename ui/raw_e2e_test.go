package ui_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// trigger holds a packet socket whose filter passes only a UDP payload
// starting 0x7255 (tcpdump's udp[8:2] = 0x7255), as BPFDoor does.
const trigger = `
import ctypes, socket, struct, sys
code = [(0x28,0,0,12),(0x15,0,8,0x800),(0x30,0,0,23),(0x15,0,6,17),(0x28,0,0,20),(0x45,4,0,0x1fff),
        (0xb1,0,0,14),(0x48,0,0,22),(0x15,0,1,0x7255),(0x06,0,0,0x40000),(0x06,0,0,0)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *c) for c in code))
pk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
pk.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(code), ctypes.addressof(buf)))
print("ready", flush=True)
sys.stdin.read()
`

// TestRawViewInTmux runs the real dashboard in tmux beside a packet
// socket waiting for a magic packet, in a namespace of the test's own:
// 7 lists it as MAGIC, signed critical, and its detail decodes the
// filter and names the trigger.
func TestRawViewInTmux(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwrawui")
	dir := t.TempDir()
	bin := buildPortwarden(t, dir)
	door := exec.Command("ip", "netns", "exec", ns.Name, "/usr/bin/python3", "-c", trigger)
	stdin, _ := door.StdinPipe()
	stdout, _ := door.StdoutPipe()
	door.Stderr = os.Stderr
	if err := door.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); door.Process.Kill(); door.Wait() }()
	if s := bufio.NewScanner(stdout); !s.Scan() || s.Text() != "ready" {
		t.Fatalf("the packet socket's holder did not start: %v", s.Err())
	}
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
