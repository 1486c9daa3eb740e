package verdict

import (
	"net/netip"
	"strings"
	"testing"

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
