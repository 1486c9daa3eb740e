//go:build linux

package sockettest

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
)

// magicDoor holds a packet socket whose classic BPF filter passes only a
// UDP datagram whose payload starts 0x7255 — BPFDoor's trigger, as
// tcpdump compiles udp[8:2] = 0x7255 — prints "ready" and waits.
const magicDoor = `
import ctypes, socket, struct, sys
code = [(0x28,0,0,12),(0x15,0,8,0x800),(0x30,0,0,23),(0x15,0,6,17),(0x28,0,0,20),(0x45,4,0,0x1fff),
        (0xb1,0,0,14),(0x48,0,0,22),(0x15,0,1,0x7255),(0x06,0,0,0x40000),(0x06,0,0,0)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *c) for c in code))
pk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
pk.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(code), ctypes.addressof(buf)))
print("ready", flush=True)
sys.stdin.read()
`

// MagicDoorForTest starts, in network namespace ns ("" for this one), a
// python (Debian's) holding a packet socket that waits for a magic
// packet, as BPFDoor does, and ends it when the test does. It returns the
// process, which holds the socket (ip netns exec execs it).
func MagicDoorForTest(t testing.TB, ns string) *exec.Cmd {
	t.Helper()
	args := []string{"/usr/bin/python3", "-c", magicDoor}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	if s := bufio.NewScanner(stdout); !s.Scan() || s.Text() != "ready" {
		t.Fatalf("the magic-packet socket's holder did not start: %v", s.Err())
	}
	return cmd
}
