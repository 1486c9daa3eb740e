package recorder

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestUDPFromTheKernel: ten real dig queries, run as nobody from one
// namespace to a responder in another, and a 5 ms exchange of this
// process's, are each one UDP lifetime with its process, user and both
// ends — shorter than any poll — and the responder's side is recorded
// inbound.
func TestUDPFromTheKernel(t *testing.T) {
	if _, err := exec.LookPath("dig"); err != nil {
		t.Fatal("dig is required (scripts/test.sh installs bind9-dnsutils)")
	}
	path := startRecorder(t, "auto")
	p := newPair(t)
	sockettest.DNSEchoForTest(t, p.server, "198.51.100.7:5353")
	for range 10 {
		cmd := exec.Command("ip", "netns", "exec", p.client.Name, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"dig", "+tries=1", "+time=2", "-p", "5353", "@198.51.100.7", "example.org")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dig: %v: %s", err, out)
		}
	}
	var took time.Duration
	err := p.client.Do(func() error {
		c, err := net.Dial("udp4", "198.51.100.7:5353")
		if err != nil {
			return err
		}
		defer c.Close()
		start := time.Now()
		if _, err := c.Write([]byte("\x00\x01\x00\x00 five ms")); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 64)); err != nil {
			return err
		}
		took = time.Since(start)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nobody := "65534"
	if u, err := user.LookupId(nobody); err == nil {
		nobody = u.Username
	}
	server := netip.MustParseAddrPort("198.51.100.7:5353")
	var out, in []history.Lifetime
	waitSaying(t, path, "11 UDP lifetimes out, ended, and as many in", 30*time.Second, func(db *history.DB) bool {
		out, in = nil, nil
		db.Query(history.Filter{Port: 5353, Proto: sockets.UDP, Kind: history.Connection}, func(l *history.Lifetime) error {
			if l.Direction == history.Outbound && l.Remote == server && !l.Open { // the client's socket closed
				out = append(out, *l)
			} else if l.Direction == history.Inbound && l.Local == server {
				in = append(in, *l)
			}
			return nil
		})
		return len(out) == 11 && len(in) == 11
	}, func() string { return fmt.Sprintf("%d out, %d in: %+v", len(out), len(in), out) })
	digs := 0
	for _, l := range out {
		switch {
		case l.Owner.Process == "dig":
			digs++
			if l.Owner.User != nobody || l.Source != history.EBPF || l.Local.Port() == 0 || l.Owner.NetNS == 0 || l.Owner.NetNSName != p.client.Name {
				t.Errorf("dig's lifetime %+v: want run by %s, from the kernel, its local port, in %s", l, nobody, p.client.Name)
			}
		case l.Owner.PID == os.Getpid():
			if d := l.LastSeen.Sub(l.FirstSeen); d > took+50*time.Millisecond {
				t.Errorf("the %v exchange lasted %v in the record", took, d)
			}
		default:
			t.Errorf("a lifetime of neither dig nor this test: %+v", l)
		}
	}
	if digs != 10 {
		t.Errorf("%d of 10 dig queries recorded as dig's", digs)
	}
	for _, l := range in {
		if l.Owner.PID != os.Getpid() {
			t.Errorf("the responder's side %+v: want this process", l)
		}
	}
}
