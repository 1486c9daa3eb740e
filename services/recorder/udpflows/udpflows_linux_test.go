package udpflows_test

import (
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/recorder/udpflows"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestFlowsOfRealDig: a real dig query from one namespace to a UDP
// responder in another is a flow out of dig's socket (with dig's PID and
// name), a flow into the responder's, and the release of dig's socket.
func TestFlowsOfRealDig(t *testing.T) {
	if _, err := exec.LookPath("dig"); err != nil {
		t.Fatal("dig is required (scripts/test.sh installs bind9-dnsutils)")
	}
	bed := sockettest.FirewallBedForTest(t)
	r, err := udpflows.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sockettest.DNSEchoForTest(t, bed.Server, bed.ServerPublic4.String()+":5353")
	client, _ := bed.ClientAddrs()
	dig := exec.Command("ip", "netns", "exec", bed.Public.Name, "dig", "+tries=1", "+time=2", "-p", "5353", "@"+bed.ServerPublic4.String(), "example.org")
	if out, err := dig.CombinedOutput(); err != nil {
		t.Fatalf("dig: %v: %s", err, out)
	}
	digPID := dig.Process.Pid // ip netns exec execs dig: one PID
	server := netip.AddrPortFrom(bed.ServerPublic4, 5353)
	var out, in, released bool
	var cookie uint64
	deadline := time.Now().Add(10 * time.Second)
	for !(out && in && released) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: out %v, in %v, released %v", out, in, released)
		}
		var f udpflows.Flow
		if err := r.Read(&f); err != nil {
			t.Fatal(err)
		}
		switch {
		case f.PID == digPID && f.Kind != udpflows.Release && f.Peer == server:
			if f.Comm != "dig" || f.NetNS == 0 || time.Since(f.Time).Abs() > time.Minute {
				t.Errorf("dig's flow %+v", f)
			}
			out, cookie = true, f.Cookie
		case f.Kind == udpflows.Receive && f.Peer.Addr() == client[0] && f.Local.Port() == 5353:
			in = true
		case f.Kind == udpflows.Release && cookie != 0 && f.Cookie == cookie:
			released = true
		}
	}
	if n, err := r.Lost(); err != nil || n != 0 {
		t.Errorf("lost %d (%v)", n, err)
	}
}
