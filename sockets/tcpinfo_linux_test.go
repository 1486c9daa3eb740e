package sockets

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestTCPInfoOffsets holds the offsets the parser reads to the kernel's
// struct tcp_info as golang.org/x/sys lays it out.
func TestTCPInfoOffsets(t *testing.T) {
	var info unix.TCPInfo
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"bytes_received", tcpInfoBytesReceived, unsafe.Offsetof(info.Bytes_received)},
		{"bytes_sent", tcpInfoBytesSent, unsafe.Offsetof(info.Bytes_sent)},
		{"bytes_retrans", tcpInfoBytesRetrans, unsafe.Offsetof(info.Bytes_retrans)},
	} {
		if c.got != c.want {
			t.Errorf("tcpi_%s at %d, want %d", c.name, c.got, c.want)
		}
	}
}
