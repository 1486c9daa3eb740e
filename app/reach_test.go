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
	var last *firewall.Decision // the listener's, at the last inspection
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
				last = j.Verdict.Firewall
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

	// iptables-legacy: an empty table changes nothing; its rules are
	// evaluated with the nftables ones, and read again when they change.
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		return
	}
	if err := bed.Server.Run("iptables-legacy", "-L", "-n"); err != nil {
		t.Fatal(err)
	}
	if r, _ := reach(); r != firewall.ReachHost {
		t.Errorf("with an empty legacy table: reach %s, want host", r)
	}
	if err := bed.Server.Run("nft", "delete", "table", "inet", "f"); err != nil {
		t.Fatal(err)
	}
	if err := bed.Server.Run("iptables-legacy", "-A", "INPUT", "-s", bed.PublicNet4.String(), "-p", "tcp", "--dport", "9201", "-j", "DROP"); err != nil {
		t.Fatal(err)
	}
	// The bed's internal network is not declared internal here: what
	// gets through is the other client's network alone.
	r4, rs4 := reach()
	if r4 != firewall.ReachPublic || rs4.LegacySum == 0 || !slices.Equal(last.Sources, []netip.Prefix{bed.InternalNet4}) {
		t.Errorf("with a legacy rule dropping one client network: reach %s from %v (legacy sum %x), want only %s",
			r4, last.Sources, rs4.LegacySum, bed.InternalNet4)
	}
	if err := bed.Server.Run("iptables-legacy", "-P", "INPUT", "DROP"); err != nil {
		t.Fatal(err)
	}
	if r5, rs5 := reach(); r5 != firewall.ReachNone || rs5.LegacySum == rs4.LegacySum {
		t.Errorf("with a legacy drop policy: reach %s, want none, read again", r5)
	}
	in, err := a.Inspect(sockets.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(in.Snapshot.Warnings, func(w string) bool { return strings.Contains(w, "iptables-legacy") }) {
		t.Errorf("a warning about legacy tables that were read: %q", in.Snapshot.Warnings)
	}
}
