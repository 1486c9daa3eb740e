package sockets

import (
	"net/netip"
	"testing"
)

// TestPrefaultKeepsTheSlice checks that backing a slice's spare capacity
// changes nothing in it: length, capacity, the sockets already there, the
// zeroes after them.
func TestPrefaultKeepsTheSlice(t *testing.T) {
	socks := make([]Socket, 3, 50000)
	for i := range socks {
		socks[i] = Socket{Proto: TCP, Local: netip.MustParseAddrPort("127.0.0.1:22"), Inode: uint64(i + 1)}
	}
	got := prefault(socks)
	if len(got) != 3 || cap(got) != 50000 || &got[0] != &socks[0] {
		t.Fatalf("prefault returned len %d cap %d, another array: %v", len(got), cap(got), &got[0] != &socks[0])
	}
	for i := range got {
		if got[i].Inode != uint64(i+1) || got[i].Local.Port() != 22 {
			t.Fatalf("socket %d changed: %+v", i, got[i])
		}
	}
	for i, s := range got[len(got):cap(got)] {
		if s.Local.IsValid() || s.Inode != 0 || s.Processes != nil {
			t.Fatalf("spare socket %d is not zero: %+v", i, s)
		}
	}
	if n := len(prefault(nil)) + len(prefault(make([]Socket, 0))); n != 0 {
		t.Fatal("prefault of nothing made something")
	}
}
