//go:build linux

package sockettest

import (
	"net"
	"testing"
)

// DNSEchoForTest answers every datagram to addr (IP:port) inside ns with
// itself, a question flagged as its answer — enough for dig to take it —
// until t ends.
func DNSEchoForTest(t testing.TB, ns *Namespace, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.Do(func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n > 3 {
				buf[2] |= 0x80 // QR: a response
				pc.WriteTo(buf[:n], from)
			}
		}
	}()
}
