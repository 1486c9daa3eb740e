package bans_test

import (
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/bans"
	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestBansOfRealDefenders: a peer banned by a real fail2ban after three
// wrong passwords against a real sshd (expiry from fail2ban's own
// database), one banned through sshguard's real nftables backend, one in
// an admin's own blocklist set that a rule drops, one in a fail2ban ipset
// with a timeout, and portwarden's own block — each read with its tool,
// set and expiry, in the bed's namespace only.
func TestBansOfRealDefenders(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	auth := sockettest.AuthBedForTest(t, bed.Server, bed.ServerPublic4, sockettest.AuthBedOptions{Fail2ban: true})
	public, internal := bed.ClientAddrs()
	for range 3 {
		if err := auth.FailPassword(bed.Public, netip.Addr{}, "root"); err != nil {
			t.Fatal(err)
		}
	}

	guard := exec.Command("ip", "netns", "exec", bed.Server.Name, "/usr/libexec/sshguard/sshg-fw-nft-sets")
	feed, err := guard.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := guard.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feed.Close(); guard.Wait() }) // at its input's end it removes its tables
	io.WriteString(feed, fmt.Sprintf("block %s 4 32\n", internal[0]))

	nft := "table inet admin {\n set blocklist { type ipv4_addr; flags interval; elements = { 203.0.113.0/25 } }\n" +
		" chain input { type filter hook input priority 0; ip saddr @blocklist drop; }\n}\n"
	if err := bed.Server.Run("sh", "-c", "printf '%s' \"$0\" | nft -f -", nft); err != nil {
		t.Fatal(err)
	}
	if err := bed.Server.Run("ipset", "create", "f2b-recidive", "hash:ip", "timeout", "3600"); err != nil {
		t.Fatal(err)
	}
	if err := bed.Server.Run("ipset", "add", "f2b-recidive", "192.0.2.200", "timeout", "1800"); err != nil {
		t.Fatal(err)
	}
	if err := (block.Blocker{NSPath: bed.Server.Path()}).Block(block.Block{Peer: netip.MustParsePrefix("2001:db8:dead::/48"), For: time.Hour}); err != nil {
		t.Fatal(err)
	}

	space := []bans.Space{{Path: bed.Server.Path(), Inode: 1, Label: bed.Server.Name}}
	var got []bans.Ban
	var warnings []string
	find := func(by string, peer netip.Addr) *bans.Ban {
		for i := range got {
			if got[i].By == by && got[i].Covers(peer) {
				return &got[i]
			}
		}
		return nil
	}
	start := time.Now()
	ok := sockettest.WaitFor(30*time.Second, func() bool {
		got, warnings = bans.ReadAll(space, "/proc", time.Now())
		f := find(bans.Fail2ban, public[0])
		return f != nil && f.Known && find(bans.SSHGuard, internal[0]) != nil
	})
	if !ok {
		t.Fatalf("bans %+v, warnings %v: want fail2ban's of %s with its expiry and sshguard's of %s", got, warnings, public[0], internal[0])
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	now := time.Now()
	f := find(bans.Fail2ban, public[0])
	if f.Jail != "sshd" || f.Set != "inet f2b-table addr-set-sshd" || f.Expires.Before(start.Add(590*time.Second)) || f.Expires.After(now.Add(601*time.Second)) {
		t.Errorf("fail2ban's ban %+v: want jail sshd in inet f2b-table addr-set-sshd, ending 600 s after it began", *f)
	}
	if s := find(bans.SSHGuard, internal[0]); s.Set != "ip sshguard attackers" || s.Known || !strings.Contains(s.Until(now), "unknown") {
		t.Errorf("sshguard's ban %+v (%s): want ip sshguard attackers, expiry unknown", *s, s.Until(now))
	}
	if a := find(bans.NFTables, netip.MustParseAddr("203.0.113.77")); a == nil || a.Peer != netip.MustParsePrefix("203.0.113.0/25") ||
		a.Set != "inet admin blocklist" || !a.Known || !a.Expires.IsZero() || find(bans.NFTables, netip.MustParseAddr("203.0.113.200")) != nil {
		t.Errorf("the admin's blocklist: %+v; want 203.0.113.0/25 from inet admin blocklist, until unbanned", a)
	}
	if r := find(bans.Fail2ban, netip.MustParseAddr("192.0.2.200")); r == nil || r.Jail != "recidive" || r.Set != "ipset f2b-recidive" ||
		r.Expires.Before(start.Add(1790*time.Second)) || r.Expires.After(now.Add(1801*time.Second)) {
		t.Errorf("the recidive ipset: %+v; want jail recidive ending in 1800 s", r)
	}
	if p := find(bans.Portwarden, netip.MustParseAddr("2001:db8:dead::1")); p == nil || p.Expires.Before(start.Add(59*time.Minute)) {
		t.Errorf("portwarden's block: %+v", p)
	}
}
