package recorder

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/recorder/probes"
	"github.com/portwarden/portwarden/sockets"
)

// TestScanTrackerAddsUp: a 65,535-port scan is one scan with every port
// once, however often each was probed; an ACK to a closed port is no
// probe; a peer silent past scanIdle starts a new scan once the old one
// is written.
func TestScanTrackerAddsUp(t *testing.T) {
	tr := newScanTracker()
	at := time.Unix(1_700_000_000, 0)
	peer := netip.MustParseAddrPort("198.51.100.9:40000")
	probe := func(port uint16, flags uint8, when time.Time) {
		tr.probe(&probes.Probe{Time: when, NetNS: 7, Proto: sockets.TCP, TCPFlags: flags,
			Local: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), port), Remote: peer})
	}
	for range 2 {
		for port := 1; port <= 65535; port++ {
			probe(uint16(port), probes.FlagSYN, at)
		}
	}
	probe(80, probes.FlagACK, at)
	scans := tr.take(nil, at)
	if len(scans) != 1 || scans[0].Ports != 65535 || scans[0].Probes != 2*65535 || scans[0].PortList != "1-65535" || scans[0].Kind != history.ScanSYN {
		t.Fatalf("scans %+v", scans)
	}
	scans[0].ID = 1
	tr.written(scans)
	if again := tr.take(nil, at); len(again) != 0 {
		t.Errorf("written and unchanged, taken again: %+v", again)
	}
	later := at.Add(scanIdle + time.Second)
	probe(22, probes.FlagSYN, later)
	scans = tr.take(nil, later)
	if len(scans) != 1 || scans[0].ID != 0 || scans[0].Ports != 1 || !scans[0].First.Equal(later) {
		t.Errorf("after silence: %+v, want a new scan of one port", scans)
	}
}

func TestScanStateSparseThenBitmap(t *testing.T) {
	var s scanState
	var want []uint16
	for p := uint16(65535); p > 65535-200; p -= 3 {
		if !s.add(p) || s.add(p) {
			t.Fatalf("port %d: added twice, or not once", p)
		}
		want = append(want, p)
	}
	slices.Sort(want)
	if got := s.ports(); !slices.Equal(got, want) || s.bitmap == nil {
		t.Errorf("ports %v, want %v (in a bitmap)", got, want)
	}
}
