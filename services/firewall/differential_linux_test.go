package firewall_test

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/firewall/kernel"

	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// corpus holds the rulesets the differential test ever found the evaluator
// wrong on: each is replayed first, every run.
const corpus = "testdata/differential"

// TestDifferential draws random rulesets from a grammar of the constructs
// the evaluator follows (and some it does not), loads each with nft into
// the server namespace, and compares the evaluator with real packets from
// every class of client, for every listener: an answer that is neither
// the packets' nor unknown fails, and the ruleset is kept in the corpus.
// DIFFTIME (default 20s) bounds the random part.
func TestDifferential(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	listeners := bedListeners(t, bed)
	scope := bedScope(t, bed)
	// check reports false when the evaluator is wrong on ruleset; nft may
	// refuse a drawn ruleset (conflicting protocols): refused is then set.
	refused := 0
	check := func(ruleset string) bool {
		t.Helper()
		if err := bed.Server.Run("nft", "flush", "ruleset"); err != nil {
			t.Fatal(err)
		}
		if err := bed.Server.Run("nft", ruleset); err != nil {
			refused++
			return true
		}
		// Lines "# run: CMD" are commands run with it in the server
		// namespace: policy routing (ip rule), ipsets and iptables-nft.
		routed := false
		for _, line := range strings.Split(ruleset, "\n") {
			if cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "# run: "); ok {
				args := strings.Fields(cmd)
				routed = routed || args[0] == "ip"
				if err := bed.Server.Run(args[0], args[1:]...); err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
			}
		}
		if routed {
			defer resetRouting(t, bed)
		}
		rs, err := kernel.Read(bed.Server.Path())
		if err != nil {
			t.Fatal(err)
		}
		scope := scope
		if routed {
			scope = bedScope(t, bed)
		}
		wrong := disagreements(bed, scope, listeners, rs)
		for _, w := range wrong {
			t.Errorf("%s\n%s", w, ruleset)
		}
		ok := len(wrong) == 0
		return ok
	}

	found, _ := filepath.Glob(filepath.Join(corpus, "*.nft"))
	sort.Strings(found)
	for _, f := range found {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if check(expandBed(string(b), bed)); refused > 0 {
			t.Fatalf("nft refuses %s", f)
		}
	}

	budget := 20 * time.Second
	if s := os.Getenv("DIFFTIME"); s != "" {
		var err error
		if budget, err = time.ParseDuration(s); err != nil {
			t.Fatalf("DIFFTIME: %v", err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	n := 0
	for end := time.Now().Add(budget); time.Now().Before(end); n++ {
		g := grammar{rng: rng, bed: bed}
		text := g.ruleset()
		if !check(expandBed(text, bed)) {
			h := fnv.New64a()
			h.Write([]byte(text))
			name := filepath.Join(corpus, fmt.Sprintf("found-%x.nft", h.Sum64()))
			if err := os.MkdirAll(corpus, 0o755); err == nil {
				os.WriteFile(name, []byte(text), 0o644)
				t.Logf("kept as %s", name)
			}
		}
	}
	t.Logf("%d random rulesets, %d of them refused by nft", n, refused)
}

// disagreements compares what the evaluator decides for each listener
// with what real packets from the bed's public, internal and local
// clients do, client by client: an answer that is neither the packets'
// nor unknown is a disagreement.
func disagreements(bed *sockettest.FirewallBed, scope *firewall.Scope, listeners []bedListener, rs *firewall.Ruleset) []string {
	type seen struct{ pub, in, host bool }
	observed := make([]seen, len(listeners))
	bed.FlushNeighbours()
	if err := bed.FlushConntrack(); err != nil {
		return []string{err.Error()}
	}
	var wg sync.WaitGroup
	for i, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &observed[i]
			o.pub, o.in, o.host = bed.ObserveEach(l.network, l.addr, l.v6only)
		}()
	}
	wg.Wait()
	pubClient, inClient := bed.ClientAddrs()
	var wrong []string
	for i, l := range listeners {
		fl := firewall.Listener{Proto: protoOf(l.network), Addr: l.addr.Addr(), Port: l.addr.Port(), V6Only: l.v6only}
		d := rs.Decide(scope, fl)
		if d.Reach == firewall.ReachUnknown {
			continue
		}
		o := observed[i]
		want := seen{admits(d, pubClient, true), admits(d, inClient, false), d.Host}
		// What the evaluator said it could not follow is no answer, nor
		// is what the packets say of neighbour discovery (a flushed
		// cache entry that a route still holds stays usable).
		if unsure(d, pubClient) || firewall.BlockedByNeighbourDiscovery(rs, scope, fl, pubClient[1]) {
			want.pub = o.pub
		}
		if unsure(d, inClient) || firewall.BlockedByNeighbourDiscovery(rs, scope, fl, inClient[1]) {
			want.in = o.in
		}
		if d.HostUnknown {
			want.host = o.host
		}
		if want != o {
			wrong = append(wrong, fmt.Sprintf("%s: evaluator says %s %v, host %v (%s %s): public client %v, internal %v; packets say public %v, internal %v, host %v",
				l, d.Reach, d.Sources, d.Host, d.Verdict, d.RuleRef(), want.pub, want.in, o.pub, o.in, o.host))
		}
	}
	return wrong
}

// resetRouting puts back the rules a namespace starts with.
func resetRouting(t *testing.T, bed *sockettest.FirewallBed) {
	for _, args := range [][]string{{"-4", "rule", "flush"}, {"-4", "rule", "add", "pref", "32766", "lookup", "main"},
		{"-4", "rule", "add", "pref", "32767", "lookup", "default"}, {"-6", "rule", "flush"}, {"-6", "rule", "add", "pref", "32766", "lookup", "main"}} {
		if err := bed.Server.Run("ip", args...); err != nil {
			t.Error(err)
		}
	}
}

// admits says whether decision d lets in a client from either of its
// addresses: the widest class reached, narrowed to d.Sources when only
// part of the outside gets through.
func admits(d firewall.Decision, client [2]netip.Addr, public bool) bool {
	switch {
	case d.Reach == firewall.ReachPublic:
	case d.Reach == firewall.ReachInternal && !public:
	default:
		return false
	}
	if len(d.Sources) == 0 {
		return true
	}
	for _, p := range d.Sources {
		if p.Contains(client[0]) || p.Contains(client[1]) {
			return true
		}
	}
	return false
}

// unsure says whether the client's fate is one d could not follow.
func unsure(d firewall.Decision, client [2]netip.Addr) bool {
	for _, p := range d.Unsure {
		if p.Contains(client[0]) || p.Contains(client[1]) {
			return true
		}
	}
	return false
}

// expandBed fills a ruleset's placeholders with the bed's names, so that
// corpus files stay valid in any bed: @PUBLINK@, @INLINK@, @PUB4@, @IN4@,
// @PUB6@, @IN6@, @SRVPUB4@, @SRVIN4@, and the clients' IPv4 addresses
// @PUBCLIENT4@ and @INCLIENT4@.
func expandBed(s string, bed *sockettest.FirewallBed) string {
	pub, in := bed.ClientAddrs()
	return strings.NewReplacer("@PUBLINK@", bed.PublicLink, "@INLINK@", bed.InternalLink,
		"@PUB4@", bed.PublicNet4.String(), "@IN4@", bed.InternalNet4.String(),
		"@PUB6@", bed.PublicNet6.String(), "@IN6@", bed.InternalNet6.String(),
		"@SRVPUB4@", bed.ServerPublic4.String(), "@SRVIN4@", bed.ServerInternal4.String(),
		"@PUBCLIENT4@", pub[0].String(), "@INCLIENT4@", in[0].String()).Replace(s)
}

// grammar draws rulesets.
type grammar struct {
	rng *rand.Rand
	bed *sockettest.FirewallBed
}

func (g grammar) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

func (g grammar) ports() string {
	p := func() int { return 9001 + g.rng.IntN(7) }
	switch g.rng.IntN(3) {
	case 0:
		return fmt.Sprint(p())
	case 1:
		lo := p()
		return fmt.Sprintf("%d-%d", lo, lo+g.rng.IntN(3))
	}
	return fmt.Sprintf("{ %d, %d }", p(), p())
}

func (g grammar) verdict() string { return g.pick("accept", "drop", "reject", "counter", "return") }

func (g grammar) match() string {
	return g.pick(
		"tcp dport "+g.ports(),
		"udp dport "+g.ports(),
		"meta l4proto "+g.pick("tcp", "udp")+" th dport "+g.ports(),
		"ip saddr "+g.pick("@PUB4@", "@IN4@", "198.51.100.0/24", "198.51.100.16/30"),
		"ip6 saddr "+g.pick("@PUB6@", "@IN6@", "2001:db8::/32"),
		"ip saddr != @IN4@",
		"iifname "+g.pick(`"@PUBLINK@"`, `"@INLINK@"`, `"lo"`),
		"iifname != "+g.pick(`"@PUBLINK@"`, `"lo"`),
		"ip daddr "+g.pick("@SRVPUB4@", "@SRVIN4@", "127.0.0.1"),
		"ct state "+g.pick("new", "established,related", "invalid", "untracked"),
		"ct status dnat",
		"fib daddr type local",
		"meta nfproto "+g.pick("ipv4", "ipv6"),
		"limit rate 100000/second burst 10000 packets",
		"limit rate over 100000/second burst 10000 packets",
		"meta mark 0x1",
		"meta mark & 0x2 == 0x2",
		"ct mark 0x1",
		"tcp flags syn",
		"tcp sport 1-1023",
	)
}

// vmap draws a verdict map: of every key the evaluator lowers, and a
// named one with a catch-all.
func (g grammar) vmap(withJump bool) string {
	v := func() string {
		if withJump && g.rng.IntN(4) == 0 {
			return "jump more"
		}
		return g.pick("accept", "drop", "continue")
	}
	p := func() int { return 9001 + g.rng.IntN(7) }
	return g.pick(
		"ct state vmap { established : accept, related : accept, invalid : drop }",
		fmt.Sprintf("tcp dport vmap { %d : %s, %d : %s }", p(), v(), p()+7, v()),
		fmt.Sprintf("meta l4proto udp udp dport vmap { %d-%d : %s }", p(), p()+2, v()),
		fmt.Sprintf("ip saddr vmap { %s : %s, %s : %s }", g.pick("@PUB4@", "198.51.100.16/30"), v(), "@IN4@", v()),
		fmt.Sprintf("ip6 saddr . tcp dport vmap { %s . %d : %s }", g.pick("@PUB6@", "@IN6@"), p(), v()),
		fmt.Sprintf(`iifname vmap { "@PUBLINK@" : %s, "lo" : accept }`, v()),
		fmt.Sprintf("meta mark vmap { 0x1 : %s }", v()),
		"th dport vmap @ports",
	)
}

func (g grammar) rules(n int, withJump bool) string {
	var b strings.Builder
	for range n {
		parts := []string{}
		for range 1 + g.rng.IntN(2) {
			parts = append(parts, g.match())
		}
		v := g.verdict()
		if withJump && g.rng.IntN(6) == 0 {
			v = "jump more"
		}
		if v == "return" && withJump {
			v = "accept"
		}
		if g.rng.IntN(4) == 0 {
			parts, v = parts[:g.rng.IntN(2)], g.vmap(withJump)
		}
		b.WriteString("\t\t" + strings.Join(parts, " ") + " " + v + "\n")
	}
	return b.String()
}

// routing draws a policy routing rule that null-routes some peers.
func (g grammar) routing() string {
	return "# run: ip " + g.pick(
		"rule add from @IN4@ blackhole",
		"rule add to @PUB4@ prohibit",
		"rule add ipproto udp to @IN4@ unreachable",
		"rule add to @PUB4@ ipproto tcp dport 9001-9003 blackhole",
		"-6 rule add to @IN6@ prohibit",
		"-6 rule add from @PUB6@ blackhole",
		"rule add iif lo to @PUB4@ blackhole",
	) + "\n"
}

// iptables draws iptables-nft rules beside the nft ones: an ipset match
// (a trusted network and a blocklist) or a per-source connection limit.
func (g grammar) iptables() string {
	var b strings.Builder
	b.WriteString("# run: ipset -exist create pwd-net hash:net\n# run: ipset flush pwd-net\n")
	b.WriteString("# run: ipset -exist create pwd-ip hash:ip timeout 600\n# run: ipset flush pwd-ip\n")
	fmt.Fprintf(&b, "# run: ipset add pwd-net %s\n# run: ipset add pwd-ip %s\n", g.pick("@IN4@", "@PUB4@", "198.51.100.16/30"), g.pick("@PUBCLIENT4@", "@INCLIENT4@"))
	for range 1 + g.rng.IntN(2) {
		fmt.Fprintf(&b, "# run: iptables -A INPUT %s\n", g.pick(
			"-m set --match-set pwd-net src -j ACCEPT",
			"-m set --match-set pwd-net src -j DROP",
			"-m set ! --match-set pwd-ip src -p tcp --dport 9001 -j ACCEPT",
			"-m set --match-set pwd-ip src -j REJECT",
			"-p tcp --dport 9001 -m connlimit --connlimit-above 2 -j REJECT",
			"-p udp -m connlimit --connlimit-upto 1 -j ACCEPT",
		))
	}
	if g.rng.IntN(2) == 0 {
		b.WriteString("# run: iptables -P INPUT DROP\n# run: iptables -I INPUT -i lo -j ACCEPT\n# run: iptables -I INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n")
	}
	return b.String()
}

// marks draws the rules of a prerouting chain that set marks.
func (g grammar) marks() string {
	var b strings.Builder
	for range 1 + g.rng.IntN(2) {
		fmt.Fprintf(&b, "\t\t%s %s\n", g.match(), g.pick("meta mark set 0x1", "meta mark set mark or 0x2", "ct mark set 0x1",
			"ct state new ct mark set meta mark", "meta mark set ct mark"))
	}
	return b.String()
}

func (g grammar) ruleset() string {
	var b strings.Builder
	first := 9001 + g.rng.IntN(6)
	fmt.Fprintf(&b, "table inet t {\n\tmap ports { type inet_service : verdict; elements = { %d : accept, %d : drop, * : %s } }\n",
		first, first+1+g.rng.IntN(9007-first), g.pick("accept", "drop", "continue"))
	b.WriteString("\tchain more {\n" + g.rules(1+g.rng.IntN(3), false) + "\t}\n")
	fmt.Fprintf(&b, "\tchain input {\n\t\ttype filter hook input priority 0; policy %s;\n", g.pick("accept", "drop"))
	if g.rng.IntN(2) == 0 {
		b.WriteString("\t\tiif lo accept\n")
	}
	b.WriteString(g.rules(1+g.rng.IntN(5), true) + "\t}\n")
	if g.rng.IntN(3) == 0 {
		b.WriteString("\tchain pre {\n\t\ttype filter hook prerouting priority -150; policy accept;\n" + g.rules(1+g.rng.IntN(2), false) + "\t}\n")
	}
	if g.rng.IntN(2) == 0 {
		b.WriteString("\tchain marks {\n\t\ttype filter hook prerouting priority -160; policy accept;\n" + g.marks() + "\t}\n")
	}
	b.WriteString("}\n")
	if g.rng.IntN(4) == 0 {
		b.WriteString(g.routing())
	}
	if g.rng.IntN(4) == 0 {
		b.WriteString(g.iptables())
	}
	if g.rng.IntN(4) == 0 {
		fmt.Fprintf(&b, "table netdev e {\n\tchain in {\n\t\ttype filter hook ingress device %s priority 0; policy accept;\n\t\t%s drop\n\t}\n}\n",
			g.pick(`"@PUBLINK@"`, `"@INLINK@"`), g.pick("tcp dport "+g.ports(), "udp dport "+g.ports(), "ip saddr @IN4@"))
	}
	return b.String()
}
