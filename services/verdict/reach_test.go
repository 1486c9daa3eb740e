package verdict

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/block"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets"
)

// TestReachJudges: the same unexpected wildcard listener (http-alt,
// medium in the catalog) is raised to high and fails the check when the
// firewall lets the public in, stays medium when it admits internal
// networks only, is low and passes when the firewall blocks it, and is
// judged by its bind when the firewall is unknown; the detail pane says
// which rule decided.
func TestReachJudges(t *testing.T) {
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{
		{Proto: sockets.TCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: sockets.Listen},
	}}
	cases := []struct {
		decision  firewall.Decision
		risk      catalog.Risk
		fails     bool
		explained []string
	}{
		{firewall.Decision{Reach: firewall.ReachPublic, Verdict: firewall.VerdictAccept, Chain: "inet filter input", Handle: 12, Rule: "tcp dport 8080 accept"},
			catalog.High, true, []string{"Reachable from the Internet: bound to 0.0.0.0", "table inet filter, chain input accepts it (rule 12: tcp dport 8080 accept)"}},
		{firewall.Decision{Reach: firewall.ReachInternal, Verdict: firewall.VerdictDrop, Chain: "inet filter input",
			Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			catalog.Medium, true, []string{"internal networks only", "drops it by its policy", "10.0.0.0/8 get through"}},
		{firewall.Decision{Reach: firewall.ReachHost, Verdict: firewall.VerdictDrop, Chain: "inet filter input", Handle: 7, Rule: "tcp dport 8080 drop", Host: true},
			catalog.Low, false, []string{"Blocked from outside", "rule 7", "this host can still connect over loopback", "discards the packet silently"}},
		{firewall.Decision{Reach: firewall.ReachUnknown, Verdict: firewall.VerdictUnknown, Chain: "inet filter input", Handle: 3, Rule: "[limit rate] accept", Why: "limit rate"},
			catalog.High, true, []string{"could not follow the firewall here (limit rate)", "inet filter input handle 3", "bind address alone"}},
	}
	for _, c := range cases {
		a := &Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{},
			Reach: func(*sockets.Socket) *firewall.Decision { d := c.decision; return &d }}
		j := a.Assess(snap)[0]
		if j.Verdict.Risk != c.risk || DefaultPolicy().FailsListener(j.Verdict) != c.fails {
			t.Errorf("reach %s: risk %s, fails %v; want %s, %v", c.decision.Reach, j.Verdict.Risk, DefaultPolicy().FailsListener(j.Verdict), c.risk, c.fails)
		}
		text := ExplainReach(j.Socket, j.Verdict)
		for _, want := range c.explained {
			if !strings.Contains(text, want) {
				t.Errorf("reach %s explained %q, want %q in it", c.decision.Reach, text, want)
			}
		}
	}
}

// TestBlockedPeerMarked: a connection whose peer portwarden blocks reads
// BLOCKED, with how long the block holds among its reasons; a block on
// another port of the peer does not mark it.
func TestBlockedPeerMarked(t *testing.T) {
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{
		{Proto: sockets.TCP, Local: netip.MustParseAddrPort("192.0.2.5:22"), Remote: netip.MustParseAddrPort("198.51.100.7:50000"), State: sockets.Established},
		{Proto: sockets.TCP, Local: netip.MustParseAddrPort("192.0.2.5:80"), Remote: netip.MustParseAddrPort("198.51.100.9:50001"), State: sockets.Established},
	}}
	a := &Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{}, Blocks: []block.Block{
		{Peer: netip.MustParsePrefix("198.51.100.0/29")},
		{Peer: netip.MustParsePrefix("198.51.100.9/32"), Proto: sockets.TCP, Port: 443, For: time.Hour, Left: time.Hour},
	}}
	judged := a.Assess(snap)
	if v := judged[0].Verdict; v.Blocked == nil || !strings.HasPrefix(v.Label(), "BLOCKED") || !strings.Contains(strings.Join(v.Reasons, ";"), "peer blocked until unblocked") {
		t.Errorf("blocked peer: %s %+v", v.Label(), v.Reasons)
	}
	if v := judged[1].Verdict; v.Blocked != nil || strings.HasPrefix(v.Label(), "BLOCKED") {
		t.Errorf("a peer blocked on another port reads %s", v.Label())
	}
}
