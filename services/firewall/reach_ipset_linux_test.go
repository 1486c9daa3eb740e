package firewall_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/firewall"
)

// TestReachIPSets: iptables-nft rules matching ipsets, as CSF, fail2ban's
// ipset actions and many guides write them — a trusted hash:net with a
// nomatch carve-out, a hash:ip blocklist with timeouts, a hash:net,port
// service list, a list:set, an IPv6 set — agree with real packets client
// by client; and a change of an ipset alone, which moves no nftables
// generation, is seen.
func TestReachIPSets(t *testing.T) {
	for _, c := range []string{"ipset", "iptables", "ip6tables"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s is not installed", c)
		}
	}
	bed := sockettestBed(t)
	listeners := bedListeners(t, bed)
	scope := bedScope(t, bed)
	pubClient, inClient := bed.ClientAddrs()
	run := func(args ...string) {
		t.Helper()
		if err := bed.Server.Run(args[0], args[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range []string{
		"ipset create pw-trusted hash:net",
		"ipset add pw-trusted " + bed.InternalNet4.String(),
		"ipset add pw-trusted " + nthAddr(bed.InternalNet4, 8) + "/29 nomatch",
		"ipset create pw-block hash:ip timeout 600",
		"ipset add pw-block " + pubClient[0].String(),
		"ipset create pw-svc hash:net,port",
		"ipset add pw-svc " + bed.PublicNet4.String() + ",tcp:9003",
		"ipset create pw-lists list:set",
		"ipset add pw-lists pw-block",
		"ipset create pw-trusted6 hash:net family inet6",
		"ipset add pw-trusted6 " + bed.InternalNet6.String(),
		"iptables -P INPUT DROP",
		"iptables -A INPUT -i lo -j ACCEPT",
		"iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"iptables -A INPUT -p udp -m set --match-set pw-lists src -j DROP",
		"iptables -A INPUT -p tcp --dport 9001 -m set ! --match-set pw-block src -j ACCEPT",
		"iptables -A INPUT -m set --match-set pw-trusted src -j ACCEPT",
		"iptables -A INPUT -m set --match-set pw-svc src,dst -j ACCEPT",
		"iptables -A INPUT -p udp -j ACCEPT",
		"ip6tables -P INPUT DROP",
		"ip6tables -A INPUT -i lo -j ACCEPT",
		"ip6tables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"ip6tables -A INPUT -p ipv6-icmp -j ACCEPT",
		"ip6tables -A INPUT -m set --match-set pw-trusted6 src -j ACCEPT",
	} {
		run(strings.Fields(cmd)...)
	}
	rs := readRuleset(t, bed)
	for _, w := range disagreements(bed, scope, listeners, rs) {
		t.Error(w)
	}
	// Each listener is decided: nothing here is beyond the evaluator.
	for _, l := range listeners {
		if d := rs.Decide(scope, firewall.Listener{Proto: protoOf(l.network), Addr: l.addr.Addr(), Port: l.addr.Port(), V6Only: l.v6only}); d.Reach == firewall.ReachUnknown {
			t.Errorf("%s: unknown (%s)", l, d.Why)
		}
	}
	// The internal client leaves the trusted set: no new generation, but
	// the ipsets changed, and the next decision follows.
	run("ipset", "add", "pw-trusted", inClient[0].String()+"/32", "nomatch")
	changed, err := kernelIPSetsChanged(bed, rs)
	if err != nil || !changed {
		t.Fatalf("an ipset entry added: changed %v, %v; want changed", changed, err)
	}
	rs = readRuleset(t, bed)
	for _, w := range disagreements(bed, scope, listeners, rs) {
		t.Error("after the change: " + w)
	}
}
