package ui

import (
	"github.com/portwarden/portwarden/sockets"

	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/services/bans"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/logins"
	"github.com/portwarden/portwarden/services/peers"
	"github.com/portwarden/portwarden/services/whereabouts"
)

// fixturePeers gathers the frame's peers as the App does, with a record
// that holds a scan, failed logins and a ban from fail2ban for the SSH
// client 198.51.100.7, and a hostile AS name for the HTTPS server.
func fixturePeers(in *app.Inspection) *app.PeersView {
	b := peers.NewBuilder(nil)
	scanner := netip.MustParseAddr("198.51.100.7")
	b.AddScan(history.Scan{Peer: scanner, Kind: history.ScanSYN, Ports: 2000, Probes: 2004, PortList: "1-2000",
		First: testNow.Add(-10 * time.Minute), Last: testNow.Add(-10*time.Minute + 3*time.Second), NetNS: 1})
	b.AddFailures(logins.Failures{Service: "sshd", Peer: scanner, Count: 5, Users: []string{"admin", "root"},
		First: testNow.Add(-8 * time.Minute), Last: testNow.Add(-7 * time.Minute)})
	for _, j := range in.Judged {
		b.AddSocket(j, testNow)
	}
	// A download the recorder saw end: 5 MiB in, 1 KiB out.
	b.AddLifetime(&history.Lifetime{Kind: history.Connection, Proto: sockets.TCP, Direction: history.Outbound,
		Local: netip.MustParseAddrPort("192.0.2.5:40500"), Remote: netip.MustParseAddrPort("198.51.100.7:443"), ServicePort: 443,
		FirstSeen: testNow.Add(-20 * time.Minute), LastSeen: testNow.Add(-19 * time.Minute),
		Bytes: sockets.Traffic{Rx: 5 << 20, Tx: 1 << 10}, Counted: true}, "https")
	v := &app.PeersView{Since: testNow.Add(-24 * time.Hour), Peers: b.Peers([]bans.Ban{{
		Peer: netip.MustParsePrefix("198.51.100.7/32"), By: bans.Fail2ban, Jail: "sshd", Set: "inet f2b-table addr-set-sshd",
		Known: true, Expires: testNow.Add(10 * time.Minute)}}),
		Warnings: []string{"failed logins: /var/log/auth.log: permission denied"}}
	for i := range v.Peers {
		if v.Peers[i].Addr == netip.MustParseAddr("203.0.113.9") {
			v.Peers[i].Place = whereabouts.Place{ASN: 64500, ASName: "Evil\x1b[2J Net", Country: "ZZ"}
			v.Peers[i].Name = whereabouts.Name{Host: "cdn.example.net"}
		}
	}
	return v
}

func TestGoldenPeersViews(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"peers", []string{"8"}},
			{"peer-detail", []string{"8", "enter"}},
		} {
			name := fmt.Sprintf("%s-%dx%d", tc.name, w, h)
			t.Run(name, func(t *testing.T) {
				m, _ := newTestModel(t, w, h, frameOf(fixtureSockets()), frameOf(fixtureSockets()))
				m = press(t, m, tc.keys...)
				golden(t, name, screen(m))
			})
		}
	}
}

// TestPeersViewReadsPeersOnlyWhenShown: frames carry the peers only
// while the Peers view shows; a hostile AS name is shown inert.
func TestPeersViewReadsPeersOnlyWhenShown(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()), frameOf(fixtureSockets()), frameOf(fixtureSockets()))
	if m.frame.Peers != nil {
		t.Fatal("the Listeners view's frame carries peers: every refresh would pay for them")
	}
	m = press(t, m, "8")
	if m.frame.Peers == nil {
		t.Fatal("the Peers view opened and no frame with peers was asked for")
	}
	rows := rowsOf(m)
	if len(rows) == 0 || !strings.Contains(rows[0], "198.51.100.7") || !strings.Contains(rows[0], "TRYING") && !strings.Contains(rows[0], "banned") {
		t.Errorf("first row %q: want the scanner, the one that tried most", rows)
	}
	out := m.View().Content
	if strings.Contains(out, "\x1b[2J") {
		t.Error("a hostile AS name reached the terminal as a control sequence")
	}
}
