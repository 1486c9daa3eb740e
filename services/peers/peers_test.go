package peers

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/bans"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/logins"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// TestPeersGatherAndSort: a scanner that failed logins sorts before a
// busy but well-behaved peer; a ban attaches only to the peers it covers
// and makes none of its own; a clone gathers apart from its original;
// the story runs in time order with what holds now last.
func TestPeersGatherAndSort(t *testing.T) {
	at := time.Date(2026, 12, 6, 1, 44, 0, 0, time.UTC)
	scanner, busy := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("192.0.2.50")
	b := NewBuilder([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	b.AddScan(history.Scan{Peer: scanner, Kind: history.ScanSYN, Ports: 2000, Probes: 2000, PortList: "1-2000", First: at, Last: at.Add(3 * time.Second)})
	b.AddFailures(logins.Failures{Service: "sshd", Peer: scanner, Count: 5, Users: []string{"admin", "root"}, First: at.Add(time.Minute), Last: at.Add(2 * time.Minute)})
	for i := range 50 {
		b.AddLifetime(&history.Lifetime{Kind: history.Connection, Proto: sockets.TCP, Direction: history.Inbound, ServicePort: 443,
			Remote: netip.AddrPortFrom(busy, uint16(40000+i)), FirstSeen: at, LastSeen: at.Add(time.Second)}, "https")
	}
	clone := b.Clone()
	clone.AddSocket(verdict.Judged{Socket: &sockets.Socket{Proto: sockets.TCP, State: sockets.Established,
		Local: netip.MustParseAddrPort("198.51.100.1:22"), Remote: netip.AddrPortFrom(scanner, 50000)},
		Verdict: &verdict.Verdict{Direction: verdict.DirectionInbound, Service: "ssh", LoginAttempt: true}}, at.Add(3*time.Minute))
	ban := bans.Ban{Peer: netip.MustParsePrefix("203.0.113.0/24"), By: bans.Fail2ban, Jail: "sshd", Known: true, Expires: at.Add(time.Hour)}
	unrelated := bans.Ban{Peer: netip.MustParsePrefix("100.64.0.0/10"), By: bans.NFTables, Set: "inet admin blocklist", Known: true}
	list := clone.Peers([]bans.Ban{ban, unrelated})
	if len(list) != 2 || list[0].Addr != scanner || list[1].Addr != busy {
		t.Fatalf("peers %+v: want the scanner, then the busy peer", list)
	}
	s := list[0]
	if s.Tried() != 2000+5+1 || s.PreAuth != 1 || s.Open != 1 || len(s.Bans) != 1 || s.Bans[0].Jail != "sshd" || s.Class != verdict.PeerExternal {
		t.Errorf("scanner %+v", s)
	}
	if list[1].Class != verdict.PeerInternal || list[1].Lifetimes != 50 || len(list[1].Ports) != 1 || list[1].Ports[0] != 443 || len(list[1].Bans) != 0 {
		t.Errorf("busy peer %+v", list[1])
	}
	if orig := b.Peers(nil); orig[0].Open != 0 || orig[0].PreAuth != 0 {
		t.Errorf("the clone's connection reached the original: %+v", orig[0])
	}
	story := s.Story(at.Add(3 * time.Minute))
	var texts []string
	for _, e := range story {
		texts = append(texts, e.Text)
	}
	joined := strings.Join(texts, "\n")
	for i, want := range []string{"syn scan of 2000 closed ports", "5 failed sshd logins as admin, root", "1 inbound connection to ssh (tcp/22) open",
		"1 SSH connection with nobody logged in", "banned by fail2ban (jail sshd), until"} {
		if i >= len(texts) || !strings.Contains(texts[i], want) {
			t.Errorf("story line %d: want %q in:\n%s", i, want, joined)
		}
	}
}
