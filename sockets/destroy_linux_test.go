package sockets

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestDestroyClosesOneConnection: SOCK_DESTROY on the accepted end of a
// loopback connection cuts it (the client reads an error), leaves the
// listener accepting, and the connection is then gone; a second attempt
// says it closed already.
func TestDestroyClosesOneConnection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("closing a connection needs CAP_NET_ADMIN")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	s := &Socket{Proto: TCP, Local: server.LocalAddr().(*net.TCPAddr).AddrPort(), Remote: server.RemoteAddr().(*net.TCPAddr).AddrPort()}
	s.Local = netip.AddrPortFrom(s.Local.Addr().Unmap(), s.Local.Port())
	s.Remote = netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port())
	if open, err := Open("", s); !open || err != nil {
		t.Fatalf("before: open %v, %v", open, err)
	}
	if err := Destroy("", s); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the client's read after SOCK_DESTROY: %v, want a reset", err)
	}
	if open, err := Open("", s); open || err != nil {
		t.Errorf("after: open %v, %v", open, err)
	}
	if err := Destroy("", s); !errors.Is(err, ErrClosed) {
		t.Errorf("second destroy: %v, want ErrClosed", err)
	}
	again, err := net.DialTimeout("tcp4", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("the listener no longer accepts: %v", err)
	}
	again.Close()
}
