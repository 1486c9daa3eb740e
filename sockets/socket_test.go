package sockets

import (
	"testing"
	"unsafe"
)

// TestSocketStaysPacked guards the field order that keeps a socket at
// 144 bytes on 64-bit machines (128 before the byte counters): a new
// field belongs where it adds least.
func TestSocketStaysPacked(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("32-bit")
	}
	if n := unsafe.Sizeof(Socket{}); n > 144 {
		t.Fatalf("a Socket is %d bytes, want at most 144: pack its small fields together", n)
	}
}
