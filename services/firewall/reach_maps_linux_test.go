package firewall_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/firewall/kernel"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// mapCases are rulesets built on verdict maps, data maps, marks and
// header rewrites — the constructs issue 30 found read wrong — checked
// against real packets like the others.
func mapCases(bed *sockettest.FirewallBed) []reachCase {
	pubLink, inLink := bed.PublicLink, bed.InternalLink
	return []reachCase{
		// The nftables wiki's "simple ruleset for a server", with the
		// bed's ports for its 22, 80 and 443.
		{name: "the wiki's simple ruleset for a server", setup: [][]string{nftScript(`table inet firewall {
			chain inbound_ipv4 {
				icmp type echo-request limit rate 5/second accept
			}
			chain inbound_ipv6 {
				icmpv6 type { nd-neighbor-solicit, nd-router-advert, nd-neighbor-advert } accept
				icmpv6 type echo-request limit rate 5/second accept
			}
			chain inbound {
				type filter hook input priority 0; policy drop;
				ct state vmap { established : accept, related : accept, invalid : drop }
				iifname lo accept
				meta protocol vmap { ip : jump inbound_ipv4, ip6 : jump inbound_ipv6 }
				tcp dport { 9001, 9002, 9003 } accept
			}
			chain forward {
				type filter hook forward priority 0; policy drop;
			}
		}`)}, rules: map[uint16]string{9001: "inet firewall inbound handle", 9007: "inet firewall inbound policy drop"}},
		// The nftables wiki's "classic perimetral firewall": the bed's
		// internal link for its LAN, the public one for its WAN, the bed's
		// ports for ssh and http.
		{name: "the wiki's classic perimetral firewall", setup: [][]string{nftScript(fmt.Sprintf(`table inet filter {
			chain input {
				type filter hook input priority 0; policy drop;
				ct state established,related accept
				iifname lo accept
				icmp type echo-request accept
				icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, echo-request } accept
				tcp dport { 9001, 9002 } accept
			}
			chain forward {
				type filter hook forward priority 0; policy drop;
				ct state established,related accept
				iifname %q accept
			}
			chain output {
				type filter hook output priority 0; policy accept;
			}
		}
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority 100; policy accept;
				oifname %q masquerade
			}
		}`, inLink, pubLink))}},
		// A perimeter: the interface picks the chain through a verdict map.
		{name: "a perimeter, interfaces mapped to chains", setup: [][]string{nftScript(fmt.Sprintf(`table inet filter {
			chain inbound_world {
				tcp dport 9001 accept
				udp dport 9005 accept
			}
			chain inbound_private {
				tcp dport { 9002, 9007 } accept
				meta l4proto udp accept
			}
			chain inbound {
				type filter hook input priority 0; policy drop;
				ct state vmap { established : accept, related : accept, invalid : drop }
				icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
				iifname vmap { lo : accept, %q : jump inbound_world, %q : jump inbound_private }
			}
		}`, pubLink, inLink))}},
		{name: "verdict maps of ports, addresses and concatenations; a catch-all", setup: [][]string{nftScript(fmt.Sprintf(`table inet filter {
			map ports { type inet_service : verdict; elements = { 9001 : accept, 9003 : jump internal, 9007 : accept, * : drop } }
			chain internal {
				ip saddr %s accept
			}
			chain input {
				type filter hook input priority 0; policy accept;
				ct state vmap { established : accept, related : accept, invalid : drop }
				iif lo accept
				icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
				ip6 saddr . udp dport vmap { %s . 9006 : accept, %s . 9006 : drop }
				meta l4proto udp ip saddr vmap { %s : drop }
				tcp dport vmap @ports
			}
		}`, bed.InternalNet4, bed.InternalNet6, bed.PublicNet6, bed.PublicNet4))},
			rules: map[uint16]string{9002: "tcp dport vmap @ports drop", 9001: "tcp dport vmap @ports accept"}},
		{name: "marks set in prerouting, tested in input", setup: [][]string{nftScript(fmt.Sprintf(`table inet mangle {
			chain pre {
				type filter hook prerouting priority -150; policy accept;
				iifname %q meta mark set 0x1
				ct state new ct mark set meta mark
				tcp dport 9003 meta mark set mark or 0x10
			}
		}
		table inet filter {
			chain input {
				type filter hook input priority 0; policy drop;
				iif lo accept
				ct state established,related accept
				icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
				meta mark 0x1 tcp dport 9001 accept
				ct mark 0x1 meta l4proto udp accept
				meta mark & 0x10 == 0x10 accept
				meta mark vmap { 0x1 : jump marked }
			}
			chain marked {
				tcp dport 9007 accept
			}
		}`, inLink))}},
		{name: "a DNAT map that misses, and stateless NAT", setup: [][]string{nftScript(`table ip nat {
			map z { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; elements = { 203.0.113.99 . tcp . 9001 : 203.0.113.98 . 80 } }
			chain pre {
				type nat hook prerouting priority -100;
				dnat ip to ip saddr . ip protocol . tcp dport map @z
			}
		}
		table inet raw {
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				udp dport 9005 ip daddr set 203.0.113.77
				tcp dport 9007 ip6 daddr set numgen inc mod 2 map { 0 : 2001:db8:ffff::1, 1 : 2001:db8:ffff::2 }
			}
		}`)}, unknown: map[uint16]string{9007: "numgen"}},
		connlimitCase(),
		{name: "iptables marks: MARK, CONNMARK, -m mark, -m connmark", needs: "iptables", setup: [][]string{
			{"iptables", "-t", "mangle", "-A", "PREROUTING", "-i", inLink, "-j", "MARK", "--set-mark", "1"},
			{"iptables", "-t", "mangle", "-A", "PREROUTING", "-j", "CONNMARK", "--save-mark"},
			{"iptables", "-P", "INPUT", "DROP"},
			{"iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
			{"iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
			{"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9001", "-m", "mark", "--mark", "1", "-j", "ACCEPT"},
			{"iptables", "-A", "INPUT", "-p", "udp", "-m", "connmark", "--mark", "1", "-j", "ACCEPT"},
			{"ip6tables", "-t", "mangle", "-A", "PREROUTING", "-i", pubLink, "-j", "MARK", "--or-mark", "2"},
			{"ip6tables", "-P", "INPUT", "DROP"},
			{"ip6tables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
			{"ip6tables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
			{"ip6tables", "-A", "INPUT", "-p", "ipv6-icmp", "-j", "ACCEPT"},
			{"ip6tables", "-A", "INPUT", "-m", "mark", "!", "--mark", "0x2/0x2", "-j", "ACCEPT"},
		}},
	}
}

// connlimitCase: iptables' per-source connection limits read as rate
// limits, as "ct count" is.
func connlimitCase() reachCase {
	return reachCase{name: "iptables connlimit", needs: "iptables", setup: [][]string{
		{"iptables", "-P", "INPUT", "DROP"},
		{"iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
		{"iptables", "-A", "INPUT", "-m", "state", "--state", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9001", "-m", "connlimit", "--connlimit-above", "4", "-j", "REJECT"},
		{"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9001", "-j", "ACCEPT"},
		{"iptables", "-A", "INPUT", "-p", "udp", "--dport", "9005", "-m", "connlimit", "--connlimit-upto", "2", "-j", "ACCEPT"},
	}, limited: map[uint16]string{9001: "xt connlimit 4 per source", 9005: "xt connlimit 2 per source"}}
}

func sockettestBed(t *testing.T) *sockettest.FirewallBed { return sockettest.FirewallBedForTest(t) }

func readRuleset(t *testing.T, bed *sockettest.FirewallBed) *firewall.Ruleset {
	t.Helper()
	rs, err := kernel.Read(bed.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func kernelIPSetsChanged(bed *sockettest.FirewallBed, rs *firewall.Ruleset) (bool, error) {
	return kernel.IPSetsChanged(bed.Server.Path(), rs)
}

// TestMarkFromTC: a tc filter on an interface may set the mark before
// netfilter sees the packet (here it does, for real), so a test of the
// mark for what arrives there is unknown, naming the interface — not the
// "no mark" the ruleset alone would say.
func TestMarkFromTC(t *testing.T) {
	bed := sockettestBed(t)
	listeners := bedListeners(t, bed)
	for _, cmd := range [][]string{
		{"nft", `table inet filter {
			chain input {
				type filter hook input priority 0; policy drop;
				iif lo accept
				ct state established,related accept
				meta mark 0x1 tcp dport 9001 accept
			}
		}`},
		{"tc", "qdisc", "add", "dev", bed.PublicLink, "ingress"},
	} {
		if err := bed.Server.Run(cmd[0], cmd[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	// A real filter marking what arrives, where the kernel has one.
	marked := bed.Server.Run("tc", "filter", "add", "dev", bed.PublicLink, "ingress", "matchall", "action", "skbedit", "mark", "1") == nil
	if !marked {
		t.Log("this kernel has no tc matchall classifier: the qdisc alone is there, no filter")
	}
	scope, rs := bedScope(t, bed), readRuleset(t, bed)
	d := rs.Decide(scope, firewall.Listener{Proto: protoOf(listeners[0].network), Addr: listeners[0].addr.Addr(), Port: 9001})
	if d.Reach != firewall.ReachUnknown || !strings.Contains(d.Why, "tc filter on "+bed.PublicLink) {
		t.Errorf("tcp 0.0.0.0:9001: reach %s (%s), want unknown because of the tc filter on %s", d.Reach, d.Why, bed.PublicLink)
	}
	if marked {
		if reach, _ := bed.Observe("tcp", listeners[0].addr, false); reach != "public" {
			t.Errorf("packets marked by tc: reach %s, want public (the case this test is for)", reach)
		}
	}
}
