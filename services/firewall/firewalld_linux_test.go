package firewall_test

import (
	"testing"

	"github.com/portwarden/portwarden/services/firewall/kernel"

	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestReachUnderFirewalld runs Debian's firewalld for real in the server
// namespace — zones by interface, ports, a rich rule with a source — and
// compares the evaluator with real packets for every listener and class
// of client: the default firewall of the RHEL family must be decided, not
// unknown.
func TestReachUnderFirewalld(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	listeners := bedListeners(t, bed)
	fw := sockettest.FirewalldForTest(t, bed.Server)
	for _, args := range [][]string{
		{"--zone=public", "--change-interface=" + bed.PublicLink},
		{"--zone=internal", "--change-interface=" + bed.InternalLink},
		{"--zone=public", "--add-port=9001/tcp"},
		{"--zone=public", "--add-port=9007/tcp"},
		{"--zone=internal", "--add-port=9005/udp"},
		{"--zone=public", "--add-rich-rule=rule family=\"ipv4\" source address=\"" + bed.PublicNet4.String() + "\" port port=\"9003\" protocol=\"tcp\" accept"},
	} {
		if err := fw.Cmd(args...); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := kernel.Read(bed.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	scope := bedScope(t, bed)
	decided := 0
	for _, l := range listeners {
		d := rs.Decide(scope, firewall.Listener{Proto: protoOf(l.network), Addr: l.addr.Addr(), Port: l.addr.Port(), V6Only: l.v6only})
		reach, host := bed.Observe(l.network, l.addr, l.v6only)
		if string(d.Reach) != reach || d.Host != host {
			t.Errorf("%s: evaluator says reach %s, host %v (%s %s %s); packets say %s, host %v",
				l, d.Reach, d.Host, d.Verdict, d.RuleRef(), d.Why, reach, host)
		}
		if d.Reach != firewall.ReachUnknown {
			decided++
		}
	}
	if decided != len(listeners) {
		t.Errorf("%d of %d listeners decided under firewalld", decided, len(listeners))
	}
}
