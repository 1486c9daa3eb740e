package recorder

import (
	"io"
	"net"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/portwarden/portwarden/services/history"
)

// TestConnectionsKeepTheirBytes: a client in one namespace sends 50 MiB to
// a server in another and reads 1 MiB back, then both close. The record
// keeps each end's bytes as the kernel counted them when it closed.
func TestConnectionsKeepTheirBytes(t *testing.T) {
	path := startRecorder(t, "auto")
	p := newPair(t)
	const up, down = 50 << 20, 1 << 20
	var ln net.Listener
	if err := p.server.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.serverAddr, 8181).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		if _, err := io.CopyN(io.Discard, c, up); err != nil {
			served <- err
			return
		}
		_, err = c.Write(make([]byte, down))
		served <- err
	}()
	// The client: Debian's python3, reading the answer before it closes.
	client := exec.Command("ip", "netns", "exec", p.client.Name, "python3", "-c", `
import socket
c = socket.create_connection(("198.51.100.7", 8181))
c.sendall(b"u" * (50 << 20))
got = 0
while got < (1 << 20):
    got += len(c.recv(1 << 20))
c.close()`)
	if out, err := client.CombinedOutput(); err != nil {
		t.Fatalf("client: %v: %s", err, out)
	}
	if err := <-served; err != nil {
		t.Fatalf("server: %v", err)
	}
	var out, in []history.Lifetime
	waitFor(t, path, "both ends closed", func(db *history.DB) bool {
		out = query(db, history.Filter{Port: 8181, Kind: history.Connection, Peer: netip.MustParsePrefix("198.51.100.7/32")})
		in = query(db, history.Filter{Port: 8181, Kind: history.Connection, Peer: netip.MustParsePrefix("198.51.100.1/32")})
		return len(out) == 1 && len(in) == 1 && !out[0].Open && !in[0].Open
	})
	if l := out[0]; !l.Counted || l.Bytes.Tx != up || l.Bytes.Rx != down || l.Owner.Process != "python3" {
		t.Errorf("the client's end: %+v; want %d bytes sent, %d received, by python3", l, up, down)
	}
	if l := in[0]; !l.Counted || l.Bytes.Rx != up || l.Bytes.Tx != down {
		t.Errorf("the server's end: %+v; want %d bytes received, %d sent", l, up, down)
	}
}
