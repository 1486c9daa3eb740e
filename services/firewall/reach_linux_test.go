package firewall_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets"

	"github.com/portwarden/portwarden/services/firewall/kernel"

	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// bedListener is a listener of the server namespace.
type bedListener struct {
	network string // "tcp" or "udp"
	addr    netip.AddrPort
	v6only  bool
}

func (l bedListener) String() string { return l.network + " " + l.addr.String() }

// TestReachAgreesWithPackets applies a matrix of rulesets to a server
// namespace and, for every listener and every class of client, compares
// what the evaluator decides with what real packets do.
func TestReachAgreesWithPackets(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	listeners := bedListeners(t, bed)
	scope := bedScope(t, bed)

	for _, c := range append(append(reachCases(bed), mapCases(bed)...), ufwCase(t, bed)) {
		t.Run(c.name, func(t *testing.T) {
			if c.needs != "" {
				if _, err := exec.LookPath(c.needs); err != nil {
					t.Skipf("%s is not installed", c.needs)
				}
			}
			if err := bed.Server.Run("nft", "flush", "ruleset"); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range c.setup {
				if err := bed.Server.Run(cmd[0], cmd[1:]...); err != nil {
					t.Fatal(err)
				}
			}
			rs, err := readWithLegacy(t, bed, c.legacy)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range listeners {
				d := rs.Decide(scope, firewall.Listener{Proto: protoOf(l.network), Addr: l.addr.Addr(), Port: l.addr.Port(), V6Only: l.v6only})
				if want, ok := c.unknown[l.addr.Port()]; ok {
					if d.Reach != firewall.ReachUnknown || !strings.Contains(d.Why, want) {
						t.Errorf("%s: reach %s (%s), want unknown because of %q", l, d.Reach, d.Why, want)
					}
					continue
				}
				reach, host := bed.Observe(l.network, l.addr, l.v6only)
				if string(d.Reach) != reach || d.Host != host {
					t.Errorf("%s: evaluator says reach %s, host %v (%s %s); packets say %s, host %v",
						l, d.Reach, d.Host, d.Verdict, d.RuleRef(), reach, host)
				}
				if want, ok := c.rules[l.addr.Port()]; ok && !strings.Contains(d.RuleRef(), want) {
					t.Errorf("%s: decided by %q, want %q", l, d.RuleRef(), want)
				}
				if want, ok := c.limited[l.addr.Port()]; ok && reach != "none" && (!strings.Contains(d.Why, "rate-limited") || !strings.Contains(d.Why, want)) {
					t.Errorf("%s: why %q, want it rate-limited by %q", l, d.Why, want)
				}
			}
		})
	}
}

// readWithLegacy reads the server's ruleset, with its iptables-legacy
// tables when the case uses them — which it leaves flushed, with ACCEPT
// policies, for the next case.
func readWithLegacy(t *testing.T, bed *sockettest.FirewallBed, legacy bool) (*firewall.Ruleset, error) {
	if !legacy {
		return kernel.Read(bed.Server.Path())
	}
	t.Cleanup(func() {
		for _, cmd := range []string{"iptables-legacy", "ip6tables-legacy"} {
			for _, args := range [][]string{{"-F"}, {"-X"}, {"-P", "INPUT", "ACCEPT"}} {
				if err := bed.Server.Run(cmd, args...); err != nil {
					t.Error(err)
				}
			}
		}
	})
	tables, err := kernel.LegacyTablesIn(bed.Server.Path())
	if err != nil {
		return nil, err
	}
	l, err := kernel.ReadLegacy(bed.Server.Path(), tables)
	if err != nil {
		return nil, err
	}
	return kernel.ReadWith(bed.Server.Path(), l)
}

func protoOf(network string) sockets.Proto {
	if network == "udp" {
		return sockets.UDP
	}
	return sockets.TCP
}

type reachCase struct {
	name    string
	needs   string     // a command the case needs
	setup   [][]string // commands run in the server namespace
	rules   map[uint16]string
	unknown map[uint16]string // ports whose reach must be unknown, and why
	// limited are ports whose reach must agree with packets, and whose
	// deciding accept is said to be rate-limited by this.
	limited map[uint16]string
	legacy  bool // the case writes iptables-legacy tables
}

func nftScript(s string) []string { return []string{"nft", s} }

func reachCases(bed *sockettest.FirewallBed) []reachCase {
	pubLink, inLink := bed.PublicLink, bed.InternalLink
	return []reachCase{
		{name: "none"},
		{name: "default drop, a few ports open", setup: [][]string{nftScript(`table inet filter {
			chain input { type filter hook input priority 0; policy drop;
				iif lo accept
				ct state established,related accept
				tcp dport { 9001, 9002 } accept
				udp dport 9005 counter accept
			}
		}`)},
			rules: map[uint16]string{9001: "inet filter input handle", 9003: "inet filter input policy drop"}},
		{name: "saddr-restricted accept", setup: [][]string{nftScript(fmt.Sprintf(`table inet filter {
			chain input { type filter hook input priority 0; policy drop;
				iifname "lo" accept
				ip saddr %s tcp dport { 9001, 9003 } accept
				ip6 saddr %s accept
				ip saddr 198.51.100.16/28 udp dport 9005 accept
			}
		}`, bed.InternalNet4, bed.InternalNet6))}},
		{name: "reject", setup: [][]string{nftScript(`table inet filter {
			chain input { type filter hook input priority 0;
				tcp dport 9002 reject
				meta l4proto udp reject with icmpx type port-unreachable
				tcp dport 9004 drop
			}
		}`)},
			rules: map[uint16]string{9002: "tcp dport 9002 reject"}},
		{name: "iifname-restricted accept", setup: [][]string{nftScript(fmt.Sprintf(`table ip filter {
			chain input { type filter hook input priority 10; policy drop;
				iifname { "lo", %q } accept
				iifname %q tcp dport 9003 accept
			}
		}`, inLink, pubLink))}},
		{name: "established and related only", setup: [][]string{nftScript(`table inet filter {
			chain input { type filter hook input priority 0; policy drop;
				ct state vmap { established : accept, related : accept, invalid : drop }
			}
		}`)}},
		{name: "jump into a chain that returns", setup: [][]string{nftScript(`table inet filter {
			chain checks {
				tcp dport 9002 return
				ip saddr 198.51.100.16/28 drop
				tcp dport 9001 accept
				meta l4proto udp accept
			}
			chain input { type filter hook input priority 0; policy drop;
				iif lo accept
				jump checks
				tcp dport 9002 accept
				ip6 saddr 2001:db8:a::/64 tcp dport 9007 accept
			}
		}`)}},
		{name: "iptables beside an inet table", needs: "iptables", setup: [][]string{
			nftScript(`table inet filter { chain input { type filter hook input priority 0; policy accept; tcp dport 9007 drop;
			}
		}`),
			{"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9001", "-j", "DROP"},
			{"iptables", "-A", "INPUT", "-s", bed.PublicNet4.String(), "-p", "udp", "-j", "REJECT"},
			{"ip6tables", "-P", "INPUT", "DROP"},
			{"ip6tables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
			{"ip6tables", "-A", "INPUT", "-p", "tcp", "-m", "multiport", "--dports", "9002,9006", "-j", "ACCEPT"},
		}, rules: map[uint16]string{9001: "ip filter INPUT handle"}},
		{name: "portwarden's own block table", setup: [][]string{nftScript(fmt.Sprintf(`table inet portwarden {
			set peers4 { type ipv4_addr; flags interval,timeout; elements = { %s timeout 1h }; }
			set ports6 { type ipv6_addr . inet_proto . inet_service; flags interval,timeout; elements = { %s . tcp . 9002 }; }
			chain input { type filter hook input priority -10; policy accept;
				ip saddr @peers4 drop
				ip6 saddr . meta l4proto . th dport @ports6 drop
			}
		}`, bed.PublicNet4, bed.PublicNet6))},
			rules: map[uint16]string{9002: "inet portwarden input handle"}},
		{name: "rules the evaluator does not know", setup: [][]string{nftScript(`table inet filter {
			chain input { type filter hook input priority 0; policy drop;
				iif lo accept
				tcp dport 9001 socket transparent 1 accept
				tcp dport 9002 accept
				udp dport 9005 meta iifgroup 1 drop
				udp dport 9005 accept
			}
		}`)},
			// "socket" loads a register: the comparison after it must not
			// test the port the register held before (reach none).
			unknown: map[uint16]string{9001: "socket", 9005: "meta iifgroup"}},
		{name: "rate limits of every form", setup: [][]string{nftScript(`table inet filter {
			limit per_minute { rate 600/minute burst 50 packets }
			quota plenty { 500 mbytes }
			set conn6 { type ipv6_addr; flags dynamic; }
			chain input { type filter hook input priority 0; policy drop;
				iif lo accept
				ct state established,related accept
				icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
				tcp dport 9001 ct state new limit rate 600/minute burst 50 packets accept
				tcp dport 9002 limit name "per_minute" accept
				tcp dport 9003 quota name "plenty" accept
				udp dport 9005 meter flood4 { ip saddr limit rate over 100/second } drop
				udp dport 9005 accept
				tcp dport 9007 add @conn6 { ip6 saddr ct count over 5 } reject
				tcp dport 9007 accept
			}
		}`)},
			limited: map[uint16]string{9001: "limit rate 600/minute", 9002: "limit rate 600/minute", 9003: "quota",
				9005: "limit rate 100/second over", 9007: "ct count 5"}},
		{name: "firewalld's ct status and reverse-path filter", setup: [][]string{nftScript(`table inet fw {
			chain raw_pre { type filter hook prerouting priority -290; policy accept;
				meta nfproto ipv6 fib saddr . mark . iif oif missing drop
			}
			chain input { type filter hook input priority 10; policy accept;
				ct state { established, related } accept
				ct status dnat accept
				iifname "lo" accept
				ct state invalid drop
				tcp dport { 9001, 9002 } accept
				reject with icmpx admin-prohibited
			}
		}`)},
			rules: map[uint16]string{9003: "reject"}},
		{name: "notrack", setup: [][]string{nftScript(`table inet raw {
			chain pre { type filter hook prerouting priority -300; tcp dport { 9001, 9002 } notrack; }
		}
		table inet filter {
			chain input { type filter hook input priority 0; policy drop;
				iif lo accept
				ct state established,related accept
				ct state new tcp dport 9001 accept
				ct state untracked tcp dport 9002 accept
				ct state new tcp dport 9007 accept
			}
		}`)}},
		{name: "accepted only on the internal address", setup: [][]string{nftScript(fmt.Sprintf(`table inet filter {
			chain input { type filter hook input priority 0; policy drop;
				iif lo accept
				ip daddr %s accept
				ip6 daddr %s accept
			}
		}`, bed.ServerInternal4, bed.ServerInternal6))}},
		{name: "ingress hooks", setup: [][]string{nftScript(fmt.Sprintf(`table netdev edge {
			chain in { type filter hook ingress device %q priority 0; tcp dport { 9001, 9002 } drop; }
		}
		table inet edge {
			chain in { type filter hook ingress device %q priority 0; udp dport 9005 drop; }
		}`, pubLink, inLink))}},
		{name: "iptables-legacy only", needs: "iptables-legacy", legacy: true, setup: [][]string{
			{"iptables-legacy", "-P", "INPUT", "DROP"},
			{"iptables-legacy", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
			{"iptables-legacy", "-A", "INPUT", "-m", "state", "--state", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
			{"iptables-legacy", "-N", "services"},
			{"iptables-legacy", "-A", "services", "-p", "tcp", "-m", "multiport", "--dports", "9001,9003:9004", "-j", "ACCEPT"},
			{"iptables-legacy", "-A", "services", "-s", bed.InternalNet4.String(), "-p", "udp", "--dport", "9005", "-j", "ACCEPT"},
			{"iptables-legacy", "-A", "services", "-p", "tcp", "--dport", "9002", "-m", "limit", "--limit", "600/min", "--limit-burst", "50", "-j", "ACCEPT"},
			{"iptables-legacy", "-A", "INPUT", "-j", "services"},
			{"iptables-legacy", "-A", "INPUT", "-p", "udp", "-j", "REJECT"},
			{"ip6tables-legacy", "-P", "INPUT", "DROP"},
			{"ip6tables-legacy", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
			{"ip6tables-legacy", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
			{"ip6tables-legacy", "-A", "INPUT", "-p", "tcp", "-m", "tcp", "--dport", "9007", "-j", "ACCEPT"},
			{"ip6tables-legacy", "-A", "INPUT", "-i", inLink, "-p", "udp", "--dport", "9006", "-j", "ACCEPT"},
		}, rules: map[uint16]string{9005: "ip legacy filter INPUT handle 4: meta l4proto udp reject", 9003: "ip legacy filter services handle 1"}, limited: map[uint16]string{9002: "xt limit"}},
		{name: "DNAT onto the listener itself", setup: [][]string{nftScript(fmt.Sprintf(`table ip nat {
			chain pre { type nat hook prerouting priority -100;
				tcp dport 9001 dnat to %s:9001
				tcp dport 9003 redirect to :9003
			}
		}`, bed.ServerPublic4))}},
	}
}

// ufwCase runs Debian's ufw for real inside the server namespace, with
// its configuration in a private copy bind-mounted over /etc/ufw and
// /etc/default/ufw in a mount namespace of its own (and no sysctl file),
// so that the host's ufw configuration and firewall stay as they were.
func ufwCase(t *testing.T, bed *sockettest.FirewallBed) reachCase {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defaults := `IPV6=yes
DEFAULT_INPUT_POLICY="DROP"
DEFAULT_OUTPUT_POLICY="ACCEPT"
DEFAULT_FORWARD_POLICY="DROP"
DEFAULT_APPLICATION_POLICY="SKIP"
MANAGE_BUILTINS=no
IPT_SYSCTL=/dev/null
IPT_MODULES=""
`
	script := fmt.Sprintf(`set -e
cp -a /etc/ufw %[1]s/ufw
mount --bind %[1]s/ufw /etc/ufw
mount --bind %[1]s/default /etc/default/ufw
mount -t tmpfs pw-ufw-run /run
ufw allow 9001/tcp >/dev/null
ufw allow from %[2]s to any port 9003 proto tcp >/dev/null
ufw allow in on %[3]s to any port 9005 proto udp >/dev/null
ufw allow 9007/tcp >/dev/null
ufw limit 9002/tcp >/dev/null
ufw --force enable >/dev/null
`, dir, bed.InternalNet4, bed.InternalLink)
	if err := os.WriteFile(dir+"/default", []byte(defaults), 0o644); err != nil {
		t.Fatal(err)
	}
	return reachCase{name: "ufw", needs: "ufw", setup: [][]string{{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}},
		rules: map[uint16]string{9001: "ip filter ufw-user-input handle"}, limited: map[uint16]string{9002: "xt recent"}}
}

// bedListeners opens the listeners every case decides, in the server
// namespace, for as long as t runs.
func bedListeners(t *testing.T, bed *sockettest.FirewallBed) []bedListener {
	listeners := []bedListener{
		{"tcp", netip.MustParseAddrPort("0.0.0.0:9001"), false},
		{"tcp", netip.MustParseAddrPort("[::]:9002"), false},
		{"tcp", netip.AddrPortFrom(bed.ServerPublic4, 9003), false},
		{"tcp", netip.MustParseAddrPort("127.0.0.1:9004"), false},
		{"udp", netip.MustParseAddrPort("0.0.0.0:9005"), false},
		{"udp", netip.AddrPortFrom(bed.ServerInternal6, 9006), false},
		{"tcp", netip.MustParseAddrPort("[::]:9007"), true},
	}
	for _, l := range listeners {
		stop, err := sockettest.Echo(bed.Server, l.network, l.addr, l.v6only)
		if err != nil {
			t.Fatalf("listen %s: %v", l, err)
		}
		t.Cleanup(stop)
	}
	return listeners
}

// TestRoutesOfEveryTable: a source arrives by the route back to it, and
// that route may be a hop of a multipath route or in a table of its own
// (policy routing): every one is read.
func TestRoutesOfEveryTable(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	for _, args := range [][]string{
		{"route", "add", "203.0.113.0/24", "nexthop", "via", nthAddr(bed.PublicNet4, 7), "nexthop", "via", nthAddr(bed.InternalNet4, 7)},
		{"route", "add", "192.0.2.0/24", "via", nthAddr(bed.InternalNet4, 7), "table", "100"},
	} {
		if err := bed.Server.Run("ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	ifs, err := kernel.ReadInterfaces(bed.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	has := func(link string, r firewall.Route) bool {
		for _, i := range ifs {
			if i.Name == link && slices.Contains(i.Routes, r) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		link string
		r    firewall.Route
	}{
		{bed.PublicLink, firewall.Route{Dst: netip.MustParsePrefix("203.0.113.0/24"), Table: 254}},
		{bed.InternalLink, firewall.Route{Dst: netip.MustParsePrefix("203.0.113.0/24"), Table: 254}},
		{bed.InternalLink, firewall.Route{Dst: netip.MustParsePrefix("192.0.2.0/24"), Table: 100}},
	} {
		if !has(c.link, c.r) {
			t.Errorf("%s lacks the route %+v: %+v", c.link, c.r, ifs)
		}
	}
}

func nthAddr(p netip.Prefix, n int) string {
	a := p.Addr().As4()
	a[3] += byte(n)
	return netip.AddrFrom4(a).String()
}

// bedScope is the server namespace's interfaces and routes, with the bed's
// internal client network declared internal.
func bedScope(t *testing.T, bed *sockettest.FirewallBed) *firewall.Scope {
	t.Helper()
	ifs, routing, err := kernel.ReadNetwork(bed.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	return firewall.NewScope(ifs, []netip.Prefix{bed.InternalNet4, bed.InternalNet6}).WithRouting(routing)
}
