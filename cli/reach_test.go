package cli

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestReachInSnapshotAndCheck runs the real binary in a firewalled server
// namespace: snapshot --json's reach for each listener must agree with
// what real packets from a public client, an internal client (declared in
// the baseline) and the server itself do; check fails only the unexpected
// listeners something outside can reach, and its table has a REACH column.
func TestReachInSnapshotAndCheck(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	type listener struct {
		network string
		addr    netip.AddrPort
	}
	listeners := []listener{
		{"tcp", netip.MustParseAddrPort("0.0.0.0:9101")}, // open to all
		{"tcp", netip.MustParseAddrPort("[::]:9102")},    // internal only
		{"udp", netip.MustParseAddrPort("0.0.0.0:9103")}, // rejected
		{"tcp", netip.MustParseAddrPort("0.0.0.0:9104")}, // dropped by policy
		{"tcp", netip.MustParseAddrPort("127.0.0.1:9105")},
	}
	for _, l := range listeners {
		stop, err := sockettest.Echo(bed.Server, l.network, l.addr, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	if err := bed.Server.Run("nft", fmt.Sprintf(`table inet filter {
		chain input {
			type filter hook input priority 0; policy drop;
			iif lo accept
			tcp dport 9101 accept
			ip saddr %s tcp dport 9102 accept
			ip6 saddr %s tcp dport 9102 accept
			udp dport 9103 reject
		}
	}`, bed.InternalNet4, bed.InternalNet6)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.toml")
	if err := os.WriteFile(base, fmt.Appendf(nil, "internal_networks = [%q, %q]\n", bed.InternalNet4, bed.InternalNet6), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	run := func(args ...string) (string, int) {
		out, errOut, code := runBin(t, "ip", append([]string{"netns", "exec", bed.Server.Name, bin}, append(args, "--netns", "self",
			"--baseline", base, "--audit-log", filepath.Join(dir, "audit.log"))...)...)
		return out + errOut, code
	}

	out, code := run("snapshot", "--json", "--listening")
	var snap report.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); code != 0 || err != nil {
		t.Fatalf("snapshot: exit %d, %v\n%s", code, err, out)
	}
	for _, l := range listeners {
		var got *report.Socket
		for i, s := range snap.Sockets {
			if s.Proto == l.network && s.LocalPort == l.addr.Port() {
				got = &snap.Sockets[i]
			}
		}
		if got == nil || got.Firewall == nil {
			t.Errorf("%s %s: not in the snapshot, or without a firewall decision", l.network, l.addr)
			continue
		}
		want, _ := bed.Observe(l.network, l.addr, false)
		if deref(got.Reach) != want {
			t.Errorf("%s %s: reach %q (%+v); packets say %q", l.network, l.addr, deref(got.Reach), *got.Firewall, want)
		}
		switch l.addr.Port() {
		case 9103:
			if got.Firewall.Verdict != "reject" || !strings.Contains(got.Firewall.Rule, "inet filter input handle") {
				t.Errorf("9103: firewall %+v, want a reject by its rule", *got.Firewall)
			}
		case 9104:
			if got.Firewall.Verdict != "drop" || got.Firewall.Rule != "inet filter input policy drop" {
				t.Errorf("9104: firewall %+v, want the policy's drop", *got.Firewall)
			}
		case 9102:
			if !strings.Contains(strings.Join(got.Firewall.Sources, " "), bed.InternalNet4.String()) {
				t.Errorf("9102: sources %v, want the internal network", got.Firewall.Sources)
			}
		}
	}

	// check: the open and the internal listeners fail; the rejected, the
	// dropped and the loopback one are reported, not failed.
	out, code = run("check", "--json")
	var c report.Check
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &c); code != 1 || err != nil {
		t.Fatalf("check: exit %d, %v\n%s", code, err, out)
	}
	var failing []uint16
	for _, s := range c.Unexpected {
		if s.LocalPort >= 9101 && s.LocalPort <= 9105 {
			failing = append(failing, s.LocalPort)
		}
	}
	if fmt.Sprint(failing) != "[9101 9102]" {
		t.Errorf("check fails %v, want [9101 9102]", failing)
	}
	out, _ = run("check", "--fail-on-unreachable")
	for _, port := range []string{":9103", ":9104", ":9105"} {
		if !strings.Contains(out, port) {
			t.Errorf("check --fail-on-unreachable does not fail %s:\n%s", port, out)
		}
	}
	out, _ = run("snapshot", "--listening")
	if !strings.Contains(out, "REACH") || !strings.Contains(out, "internal") {
		t.Errorf("snapshot's table has no REACH column:\n%s", out)
	}
}
