//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux

package sockfiles

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestScanFindsOwnSockets opens real sockets and finds each, with this
// process's PID, as /proc/self/fd names it.
func TestScanFindsOwnSockets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading an eBPF iterator needs root")
	}
	s, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	want := map[uint64]bool{}
	for _, c := range []syscall.Conn{ln.(*net.TCPListener), udp.(*net.UDPConn)} {
		raw, _ := c.SyscallConn()
		raw.Control(func(fd uintptr) {
			link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fd)))
			if err != nil {
				t.Fatal(err)
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", link, err)
			}
			want[ino] = true
		})
	}
	found := map[uint64]int32{}
	all := 0
	if err := s.Scan(func(pid int32, inode uint64) { found[inode] = pid; all++ }); err != nil {
		t.Fatal(err)
	}
	for ino := range want {
		if pid, ok := found[ino]; !ok || int(pid) != os.Getpid() {
			t.Errorf("socket %d: found held by %d (%v), want pid %d", ino, pid, ok, os.Getpid())
		}
	}
	if all < len(want) {
		t.Fatalf("%d sockets in all, fewer than this test holds", all)
	}
}
