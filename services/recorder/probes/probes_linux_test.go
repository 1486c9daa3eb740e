package probes_test

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/recorder/probes"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestProbesOfRealScans: a real nmap SYN scan and UDP scan of 300 ports
// from one namespace to another where nothing listens: every port probed
// arrives as a probe, from the scanner, to the server, in the server's
// namespace, and none is lost.
func TestProbesOfRealScans(t *testing.T) {
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Fatal("nmap is required (scripts/test.sh installs it)")
	}
	bed := sockettest.FirewallBedForTest(t)
	r, err := probes.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The server answers every closed UDP port at once (its own
	// namespace's limit): the scan is quick, and the probes are counted
	// whether or not an answer was sent.
	if err := bed.Server.Run("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"); err != nil {
		t.Fatal(err)
	}
	scanner, _ := bed.ClientAddrs()
	var st syscall.Stat_t
	if err := syscall.Stat(bed.Server.Path(), &st); err != nil {
		t.Fatal(err)
	}
	ports := map[sockets.Proto]map[uint16]bool{sockets.TCP: {}, sockets.UDP: {}}
	done := make(chan error, 1)
	go func() {
		for _, kind := range []string{"-sS", "-sU"} {
			if err := bed.Public.Run("nmap", kind, "-Pn", "-n", "-T5", "--max-retries", "0", "-p", "1-300", bed.ServerPublic4.String()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var p probes.Probe
	deadline := time.Now().Add(2 * time.Minute)
	for len(ports[sockets.TCP]) < 300 || len(ports[sockets.UDP]) < 300 {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: %d TCP and %d UDP ports probed, want 300 each", len(ports[sockets.TCP]), len(ports[sockets.UDP]))
		}
		if err := r.Read(&p); err != nil {
			t.Fatal(err)
		}
		if p.Remote.Addr() != scanner[0] {
			continue // another namespace's traffic: not this test's
		}
		if p.Local.Addr() != bed.ServerPublic4 || p.Local.Port() < 1 || p.Local.Port() > 300 || p.NetNS != st.Ino || time.Since(p.Time).Abs() > time.Minute {
			t.Fatalf("probe %+v: want one to %s ports 1-300 in namespace %d, now", p, bed.ServerPublic4, st.Ino)
		}
		if p.Proto == sockets.TCP && p.TCPFlags&(probes.FlagSYN|probes.FlagACK) != probes.FlagSYN {
			t.Fatalf("probe %+v: flags %#x, want a SYN", p, p.TCPFlags)
		}
		ports[p.Proto][p.Local.Port()] = true
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := r.Lost(); err != nil || n != 0 {
		t.Errorf("lost %d probes (%v)", n, err)
	}
}
