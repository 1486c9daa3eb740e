package app

import (
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestRulesetReadAgainOnlyWhenItChanges: while a namespace's ruleset
// generation stays the same, inspections reuse the compiled ruleset; a
// new rule makes the next inspection read it again and judge by it.
func TestRulesetReadAgainOnlyWhenItChanges(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	stop, err := sockettest.Echo(bed.Server, "tcp", netip.MustParseAddrPort("0.0.0.0:9201"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	a, _ := newApp(t, Options{NetNS: sockets.NetNSFilter(bed.Server.Name)})
	reach := func() (firewall.Reach, *firewall.Ruleset) {
		t.Helper()
		in, err := a.Inspect(sockets.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.Snapshot.Namespaces) != 1 {
			t.Fatalf("inspected %d namespaces, want the server's", len(in.Snapshot.Namespaces))
		}
		rs := a.rulesets[in.Snapshot.Namespaces[0].Inode]
		for _, j := range in.Judged {
			if j.Socket.Listening() && j.Socket.Local.Port() == 9201 {
				return j.Verdict.Reach(), rs
			}
		}
		t.Fatal("the listener is not in the inspection")
		return "", nil
	}
	r1, rs1 := reach()
	r2, rs2 := reach()
	if r1 != firewall.ReachPublic || r2 != r1 || rs1 == nil || rs2 != rs1 {
		t.Fatalf("unchanged ruleset: reach %s then %s, ruleset %p then %p; want public twice, the same ruleset", r1, r2, rs1, rs2)
	}
	if err := bed.Server.Run("nft", "table inet f { chain input { type filter hook input priority 0; iifname != \"lo\" tcp dport 9201 drop; }; }"); err != nil {
		t.Fatal(err)
	}
	r3, rs3 := reach()
	if r3 != firewall.ReachHost || rs3 == rs1 || rs3.Generation == rs1.Generation {
		t.Errorf("after a new rule: reach %s, generation %d then %d; want host, read again", r3, rs1.Generation, rs3.Generation)
	}

	// iptables-legacy: an empty table changes nothing; a rule in one
	// makes reach unknown, with a warning that names the table.
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		return
	}
	if err := bed.Server.Run("iptables-legacy", "-L", "-n"); err != nil {
		t.Fatal(err)
	}
	if r, _ := reach(); r != firewall.ReachHost {
		t.Errorf("with an empty legacy table: reach %s, want host", r)
	}
	if err := bed.Server.Run("iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "9201", "-j", "ACCEPT"); err != nil {
		t.Fatal(err)
	}
	if r, _ := reach(); r != firewall.ReachUnknown {
		t.Errorf("with a legacy rule: reach %s, want unknown", r)
	}
	in, err := a.Inspect(sockets.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(in.Snapshot.Warnings, func(w string) bool { return strings.Contains(w, "iptables-legacy tables hold rules (filter)") }) {
		t.Errorf("no warning names the legacy table: %q", in.Snapshot.Warnings)
	}
}
