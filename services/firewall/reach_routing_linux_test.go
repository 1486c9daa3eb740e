package firewall_test

import (
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/firewall"
)

// TestReachPolicyRouting: admins null-route a range with ip rules and
// routes; the filter lets the packets in, but no answer finds its way
// back. Real packets from each client decide, per protocol (a UDP socket
// bound to every address answers before a source address is chosen, so a
// "from" rule does not stop its answers while it stops TCP's).
func TestReachPolicyRouting(t *testing.T) {
	bed := sockettestBed(t)
	listeners := bedListeners(t, bed)
	for _, c := range []struct {
		name  string
		setup []string
		// rule, for listeners routing stops for the public: a part of the
		// deciding rule's text (or only that it is decided, "")
		rule map[uint16]string
	}{
		{name: "from the internal range, blackhole", setup: []string{"ip rule add from " + bed.InternalNet4.String() + " blackhole"},
			rule: map[uint16]string{9003: ""}},
		{name: "to the internal IPv6 range, prohibit", setup: []string{"ip -6 rule add to " + bed.InternalNet6.String() + " prohibit"}},
		{name: "a table of its own with a null route", setup: []string{
			"ip rule add to " + bed.PublicNet4.String() + " lookup 100 pref 100",
			"ip route add blackhole " + bed.PublicNet4.String() + " table 100",
			"ip rule add ipproto udp to " + bed.InternalNet4.String() + " unreachable pref 90",
		}, rule: map[uint16]string{9001: "blackhole"}},
		{name: "a goto over a null route, and suppress_prefixlength", setup: []string{
			"ip rule add pref 200 goto 300",
			"ip rule add pref 250 blackhole",
			"ip rule add pref 300 lookup main suppress_prefixlength 0",
			"ip rule add pref 310 lookup main",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, cmd := range c.setup {
				if err := bed.Server.Run(strings.Fields(cmd)[0], strings.Fields(cmd)[1:]...); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { resetRouting(t, bed) })
			if strings.Contains(strings.Join(c.setup, " "), "table 100") {
				t.Cleanup(func() {
					if err := bed.Server.Run("ip", "route", "flush", "table", "100"); err != nil {
						t.Error(err)
					}
				})
			}
			scope := bedScope(t, bed)
			rs := readRuleset(t, bed)
			for _, w := range disagreements(bed, scope, listeners, rs) {
				t.Error(w)
			}
			for port, want := range c.rule {
				for _, l := range listeners {
					if l.addr.Port() != port {
						continue
					}
					d := rs.Decide(scope, firewall.Listener{Proto: protoOf(l.network), Addr: l.addr.Addr(), Port: l.addr.Port(), V6Only: l.v6only})
					if want != "" && !strings.Contains(d.RuleRef(), want) {
						t.Errorf("%s: %s %v decided by %q, want the routing rule (%q)", l, d.Reach, d.Sources, d.RuleRef(), want)
					}
				}
			}
		})
	}
}
