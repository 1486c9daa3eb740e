package recorder

import (
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/history"
)

// TestScansRecorded: a real nmap connect scan, SYN scan and UDP scan of a
// namespace, each from its own address, are three rows of the record —
// each naming its scanner, kind, the closed ports probed and when — and
// nothing is lost.
func TestScansRecorded(t *testing.T) {
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Fatal("nmap is required (scripts/test.sh installs it)")
	}
	path := startRecorder(t, "auto")
	p := newPair(t)
	p.serve(t, 8090) // open: the connect scan completes a handshake there
	for _, err := range []error{
		p.client.IP("addr", "add", "198.51.100.2/24", "dev", "eth0"),
		p.client.IP("addr", "add", "198.51.100.3/24", "dev", "eth0"),
		p.server.Run("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"), // quick UDP answers: its own namespace's
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	target := p.serverAddr.String()
	for _, args := range [][]string{
		{"-sT", "-p", "1-1000,8090", target},
		{"-sS", "-S", "198.51.100.2", "-e", "eth0", "-p", "1-2000", target},
		{"-sU", "-S", "198.51.100.3", "-e", "eth0", "-p", "1-300", target},
	} {
		if err := p.client.Run("nmap", append([]string{"-Pn", "-n", "-T5", "--max-retries", "0"}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	want := map[netip.Addr]struct {
		kind  history.ScanKind
		ports int
		list  string
	}{
		netip.MustParseAddr("198.51.100.1"): {history.ScanConnect, 1000, "1-1000"},
		netip.MustParseAddr("198.51.100.2"): {history.ScanSYN, 2000, "1-2000"},
		netip.MustParseAddr("198.51.100.3"): {history.ScanUDP, 300, "1-300"},
	}
	var scans []history.Scan
	waitSaying(t, path, "three scans, every port", time.Minute, func(db *history.DB) bool {
		var err error
		scans, err = db.Scans(history.ScanFilter{Since: start, Peer: netip.MustParsePrefix("198.51.100.0/30")})
		if err != nil || len(scans) != 3 {
			return false
		}
		for _, s := range scans {
			if w := want[s.Peer]; s.Ports != w.ports || s.Kind != w.kind {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%+v", scans) })
	end := time.Now()
	for _, s := range scans {
		w := want[s.Peer]
		if s.PortList != w.list || s.Probes < s.Ports || s.First.Before(start) || s.Last.After(end) || s.NetNSName != p.server.Name {
			t.Errorf("scan %+v: want ports %s, at least as many probes, in %s, between %v and %v", s, w.list, p.server.Name, start, end)
		}
	}
	db, err := history.Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st, err := db.Stats(); err != nil || st.Lost != 0 || st.Scans != history.EBPF {
		t.Errorf("stats %+v (%v): want nothing lost, scans traced", st, err)
	}
}
