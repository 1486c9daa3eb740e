package sockets

import (
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
)

// TestScanAndWalkAgree collects the host's sockets twice, the owners once
// from the kernel's task-file iterator and once from /proc/*/fd, and
// requires the same owner for every socket both saw (this test's own
// listener and connection among them).
func TestScanAndWalkAgree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the iterator needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer accepted.Close()

	scan := NewLinuxCollector("/proc", Netlink)
	scan.scanFrom = 0 // whatever the count
	walk := NewLinuxCollector("/proc", Netlink)
	walk.scanErr = fmt.Errorf("walk only")
	a, err := scan.Collect(Query{TCP: true, NetNS: "self"})
	if err != nil {
		t.Fatal(err)
	}
	if scan.scanner == nil {
		t.Fatalf("the iterator was not used: %v", scan.scanErr)
	}
	b, err := walk.Collect(Query{TCP: true, NetNS: "self"})
	if err != nil {
		t.Fatal(err)
	}
	owners := func(snap *Snapshot) map[ID][]int {
		m := map[ID][]int{}
		for _, s := range snap.Sockets {
			for _, p := range s.Processes {
				m[s.ID()] = append(m[s.ID()], p.PID)
			}
		}
		return m
	}
	oa, ob := owners(a), owners(b)
	mine := 0
	for id, pids := range oa {
		if other, ok := ob[id]; ok && !slices.Equal(pids, other) {
			t.Errorf("%s: the iterator says %v, /proc says %v", id, pids, other)
		}
		if slices.Contains(pids, os.Getpid()) {
			mine++
		}
	}
	if mine < 3 {
		t.Fatalf("the iterator found %d of this test's 3 sockets", mine)
	}
}
