package firewall_test

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/portwarden/portwarden/services/firewall/kernel"

	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestExplainRuleset is a tool, not a check: RULESET=FILE go test -run
// TestExplainRuleset -v loads FILE (a differential corpus case, say) into
// a firewall bed and prints, for every listener, the evaluator's decision
// and every piece of its path beside what real packets do.
func TestExplainRuleset(t *testing.T) {
	b, err := os.ReadFile(os.Getenv("RULESET"))
	if err != nil {
		t.Skip("RULESET names no ruleset file to explain")
	}
	bed := sockettest.FirewallBedForTest(t)
	listeners := bedListeners(t, bed)
	ifs, _ := kernel.ReadInterfaces(bed.Server.Path())
	scope := firewall.NewScope(ifs, []netip.Prefix{bed.InternalNet4, bed.InternalNet6})
	if err := bed.Server.Run("nft", expandBed(string(b), bed)); err != nil {
		t.Fatal(err)
	}
	rs, _ := kernel.Read(bed.Server.Path())
	for _, l := range listeners {
		d := rs.Decide(scope, firewall.Listener{Proto: protoOf(l.network), Addr: l.addr.Addr(), Port: l.addr.Port(), V6Only: l.v6only})
		bed.FlushNeighbours()
		p, i, h := bed.ObserveEach(l.network, l.addr, l.v6only)
		fmt.Printf("%s: %s src=%v unsure=%v host=%v/%v (%s %s) | packets pub=%v in=%v host=%v\n", l, d.Reach, d.Sources, d.Unsure, d.Host, d.HostUnknown, d.Verdict, d.RuleRef(), p, i, h)
		fmt.Print(firewall.DebugTrace(rs, scope, firewall.Listener{Proto: protoOf(l.network), Addr: l.addr.Addr(), Port: l.addr.Port(), V6Only: l.v6only}))
	}
}
