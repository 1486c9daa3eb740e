//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux

package tcpevents

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// TestEventsOfOneConnection listens, connects and accepts on loopback and
// finds each step in the kernel's events, with the right process.
func TestEventsOfOneConnection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF needs root")
	}
	r, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	clientPort := uint16(c.LocalAddr().(*net.TCPAddr).Port)
	c.Close()
	s.Close()
	ln.Close()

	pid := os.Getpid()
	loop := netip.MustParseAddr("127.0.0.1")
	type step struct {
		name string
		ok   func(*Event) bool
	}
	var serverSock, clientSock uint64
	steps := []step{
		{"listen", func(e *Event) bool {
			return e.Kind == StateChange && e.New == sockets.Listen && e.Local == netip.AddrPortFrom(loop, port) && e.PID == pid
		}},
		{"connect", func(e *Event) bool {
			if e.Kind == StateChange && e.New == sockets.SynSent && e.Remote == netip.AddrPortFrom(loop, port) && e.PID == pid && e.Cookie != 0 {
				clientSock = e.Sock
				return true
			}
			return false
		}},
		{"established", func(e *Event) bool {
			return e.Kind == StateChange && e.Sock == clientSock && e.New == sockets.Established && e.Local.Port() == clientPort
		}},
		{"arrival", func(e *Event) bool {
			if e.Kind == StateChange && e.New == sockets.SynRecv && e.Local.Port() == port && e.Remote.Port() == clientPort {
				serverSock = e.Sock
				return true
			}
			return false
		}},
		{"accept", func(e *Event) bool { return e.Kind == Accepted && e.Sock == serverSock && e.PID == pid }},
		{"client close", func(e *Event) bool {
			return e.Kind == StateChange && e.Sock == clientSock && e.New == sockets.Close
		}},
	}
	timeout := time.AfterFunc(10*time.Second, func() { r.Close() })
	defer timeout.Stop()
	var ev Event
	for len(steps) > 0 {
		if err := r.Read(&ev); err != nil {
			t.Fatalf("waiting for %s: %v", steps[0].name, err)
		}
		if steps[0].ok(&ev) {
			if time.Since(ev.Time).Abs() > 5*time.Second {
				t.Errorf("%s dated %v, not now", steps[0].name, ev.Time)
			}
			steps = steps[1:]
		}
	}
	if len(steps) > 0 {
		t.Fatalf("no %s event", steps[0].name)
	}
	if lost, err := r.Lost(); err != nil || lost != 0 {
		t.Errorf("Lost() = %d, %v; want 0", lost, err)
	}
}

// TestUnmarshalMatchesTheCLayout: the hand-written decoder reads what
// binary.Read reads into bpf2go's struct, field for field.
func TestUnmarshalMatchesTheCLayout(t *testing.T) {
	b := make([]byte, eventSize)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	var want, got tcpEventsEvent
	if err := binary.Read(bytes.NewReader(b), binary.NativeEndian, &want); err != nil {
		t.Fatal(err)
	}
	unmarshal(b, &got)
	// The strings decode reads from the bytes: at bpf2go's offsets.
	var ev Event
	var d decoder
	d.decode(&got, b, &ev)
	str := func(c []int8) string {
		s := make([]byte, 0, len(c))
		for _, x := range c {
			if x == 0 {
				break
			}
			s = append(s, byte(x))
		}
		return string(s)
	}
	if ev.Comm != str(want.Comm[:]) || ev.CgroupTail != "/"+str(want.CgroupParent[:])+"/"+str(want.CgroupLeaf[:]) {
		t.Errorf("decode: comm %q, cgroup %q; want %q, /%q/%q", ev.Comm, ev.CgroupTail, str(want.Comm[:]), str(want.CgroupParent[:]), str(want.CgroupLeaf[:]))
	}
	got.Comm, got.CgroupParent, got.CgroupLeaf = want.Comm, want.CgroupParent, want.CgroupLeaf
	if got != want {
		t.Errorf("unmarshal:\n%+v\nbinary.Read:\n%+v", got, want)
	}
}
