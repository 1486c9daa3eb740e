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

// TestDestroyNeverHitsTheListener races the end of a connection against
// Destroy. Once a connection is gone, the kernel looks its addresses up
// as an arriving packet and finds the listener: a request without the
// socket's cookie would destroy the listener. With the cookie the answer
// is always "closed already", and the listener keeps accepting.
func TestDestroyNeverHitsTheListener(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("closing a connection needs CAP_NET_ADMIN")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	connect := func() (client, server *net.TCPConn, seen *Socket) {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		id := &Socket{Proto: TCP, Local: s.LocalAddr().(*net.TCPAddr).AddrPort(), Remote: s.RemoteAddr().(*net.TCPAddr).AddrPort()}
		if seen, err = lookup("", id); err != nil || seen.Cookie == 0 {
			t.Fatalf("the accepted connection: %+v, %v (want it with a cookie)", seen, err)
		}
		return c.(*net.TCPConn), s.(*net.TCPConn), seen
	}
	listening := func() bool {
		c, err := net.DialTimeout("tcp4", ln.Addr().String(), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		s, err := ln.Accept()
		if err == nil {
			s.Close()
		}
		return err == nil
	}

	// Gone before the request: an abortive close leaves nothing behind.
	client, server, seen := connect()
	server.SetLinger(0)
	server.Close()
	client.Close()
	if err := Destroy("", seen); !errors.Is(err, ErrClosed) {
		t.Errorf("destroy after the connection ended: %v, want ErrClosed", err)
	}
	if !listening() {
		t.Fatal("the listener was destroyed in place of a connection that had ended")
	}

	// Gone while the request is under way.
	for i := range 200 {
		client, server, seen := connect()
		done := make(chan struct{})
		go func() {
			server.SetLinger(0)
			server.Close()
			client.Close()
			close(done)
		}()
		if err := Destroy("", seen); err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("race %d: %v", i, err)
		}
		<-done
		if !listening() {
			t.Fatalf("race %d: the listener was destroyed", i)
		}
	}
}
