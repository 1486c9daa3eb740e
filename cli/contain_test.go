package cli

import (
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// ssConnections lists the TCP connections ss sees in a namespace ("" for
// the host's) as "LOCAL REMOTE" lines.
func ssConnections(t *testing.T, netns string) string {
	t.Helper()
	args := []string{"-tnH", "state", "established"}
	cmd := exec.Command("ss", args...)
	if netns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", netns, "ss"}, args...)...)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 4 {
			lines = append(lines, f[2]+" "+f[3])
		}
	}
	return strings.Join(lines, "\n")
}

// TestCloseOneConnection: a client in a namespace of the test's own
// connects to a listener on the host's veth address; close cuts exactly
// that connection — gone from ss at both ends within a second — while the
// server (this test process) keeps running and accepts a new connection.
func TestCloseOneConnection(t *testing.T) {
	f := newNSFixture(t)
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(f.peer.Host4, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		var c net.Conn
		if err := f.peer.Do(func() (err error) { c, err = net.Dial("tcp4", ln.Addr().String()); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	victim, bystander := dial(), dial()
	for range 2 {
		defer (<-accepted).Close()
	}
	target := ln.Addr().String() + "-" + victim.LocalAddr().String()
	audit := filepath.Join(t.TempDir(), "audit.log")
	bin := buildBinary(t)
	run := func(args ...string) (string, int) {
		out, errOut, code := runBin(t, bin, append(args, "--netns", "host", "--audit-log", audit)...)
		return out + errOut, code
	}

	if out, code := run("close", "--dry-run", target); code != 0 || !strings.Contains(out, target) || !strings.Contains(out, "nothing was cut") {
		t.Fatalf("close --dry-run: exit %d\n%s", code, out)
	}
	if out, code := run("close", "--read-only", "--yes", target); code != 1 {
		t.Errorf("close --read-only: exit %d, want 1\n%s", code, out)
	}
	if out, code := run("close", target); code != 1 || !strings.Contains(out, "not confirmed") {
		t.Errorf("close without a terminal or --yes: exit %d, want 1 (not confirmed)\n%s", code, out)
	}
	if out, code := run("close", "--yes", target); code != 0 || !strings.Contains(out, "closed 1 connection") {
		t.Fatalf("close: exit %d\n%s", code, out)
	}
	start := time.Now()
	hostEnd := ln.Addr().String() + " " + victim.LocalAddr().String()
	peerEnd := victim.LocalAddr().String() + " " + ln.Addr().String()
	waitUntil(t, "the connection to leave ss at both ends", func() bool {
		return !strings.Contains(ssConnections(t, ""), hostEnd) && !strings.Contains(ssConnections(t, f.peer.Name), peerEnd)
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("the connection left ss %s after close returned, want within a second", d)
	}
	victim.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := victim.Read(make([]byte, 1)); err == nil {
		t.Error("the client's end still reads")
	}
	if !strings.Contains(ssConnections(t, ""), ln.Addr().String()+" "+bystander.LocalAddr().String()) {
		t.Error("the other connection from the same peer was cut too")
	}
	dial() // the server still accepts
	if recs := readAudit(t, audit); len(recs) != 2 || recs[0].Action != "close" || recs[0].Result != "refused" ||
		recs[1].Result != "done" || !strings.Contains(recs[1].Detail, target) {
		t.Errorf("audit: %+v", recs)
	}
	if out, code := run("close", "--yes", target); code != 1 || !strings.Contains(out, "no open connection") {
		t.Errorf("closing it again: exit %d, want 1\n%s", code, out)
	}
	if _, code := run("close", "--yes", "not-a-connection"); code != 2 {
		t.Errorf("a malformed target: exit %d, want 2", code)
	}
}

// TestBlockForAWhile blocks the public client of a firewall bed for 3 s,
// from inside the server namespace: its new connections fail while the
// internal client's succeed, it connects again once the block expires by
// itself, and unblock --all leaves no table behind. IPv4 and IPv6.
func TestBlockForAWhile(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	audit := filepath.Join(t.TempDir(), "audit.log")
	bin := buildBinary(t)
	run := func(args ...string) (string, int) {
		out, errOut, code := runBin(t, "ip", append([]string{"netns", "exec", bed.Server.Name, bin}, append(args, "--netns", "self", "--audit-log", audit)...)...)
		return out + errOut, code
	}
	for _, c := range []struct {
		server, internal netip.Addr
		client           netip.Addr
	}{
		{bed.ServerPublic4, bed.ServerInternal4, netip.MustParseAddr("198.51.100.23")},
		{bed.ServerPublic6, bed.ServerInternal6, netip.MustParseAddr("2001:db8:a::7")},
	} {
		stop, err := sockettest.Echo(bed.Server, "tcp", netip.AddrPortFrom(c.server, 9301), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		stop, err = sockettest.Echo(bed.Server, "tcp", netip.AddrPortFrom(c.internal, 9301), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		reach := func(ns *sockettest.Namespace, to netip.Addr) bool {
			return sockettest.Probe(ns, "tcp", netip.AddrPortFrom(to, 9301), 300*time.Millisecond)
		}
		if !reach(bed.Public, c.server) {
			t.Fatalf("%s cannot connect before any block", c.client)
		}
		start := time.Now()
		if out, code := run("block", "--for", "3s", "--yes", c.client.String()); code != 0 || !strings.Contains(out, "blocked "+c.client.String()+" for 3s") {
			t.Fatalf("block: exit %d\n%s", code, out)
		}
		if reach(bed.Public, c.server) {
			t.Errorf("%s still connects while blocked", c.client)
		}
		if !reach(bed.Internal, c.internal) {
			t.Errorf("the internal client cannot connect while %s is blocked", c.client)
		}
		if out, _ := run("blocks"); !strings.Contains(out, c.client.String()) || !strings.Contains(out, "more") {
			t.Errorf("blocks does not list %s:\n%s", c.client, out)
		}
		waitUntil(t, "the block to expire", func() bool { return reach(bed.Public, c.server) })
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("the 3 s block ended after %s", d)
		}
	}
	if out, code := run("block", "--for", "0", "--port", "tcp/9301", "--yes", "198.51.100.20/30"); code != 0 || !strings.Contains(out, "until unblocked") {
		t.Fatalf("block a prefix on one port: exit %d\n%s", code, out)
	}
	if sockettest.Probe(bed.Public, "tcp", netip.AddrPortFrom(bed.ServerPublic4, 9301), 300*time.Millisecond) {
		t.Error("the port block lets the public client through")
	}
	if out, code := run("unblock", "--all"); code != 0 || !strings.Contains(out, "lifted 1 block") {
		t.Errorf("unblock --all: exit %d\n%s", code, out)
	}
	if out, _ := exec.Command("ip", "netns", "exec", bed.Server.Name, "nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), "portwarden") {
		t.Errorf("unblock --all left a table:\n%s", out)
	}
	if _, code := run("block", "--read-only", "--yes", "198.51.100.23"); code != 1 {
		t.Errorf("block --read-only: exit %d, want 1", code)
	}
	if _, code := run("block", "--yes", "not-an-address"); code != 2 {
		t.Errorf("block of a malformed address: exit %d, want 2", code)
	}
	var actions []string
	for _, r := range readAudit(t, audit) {
		actions = append(actions, r.Action+":"+r.Result)
	}
	if got := strings.Join(actions, " "); got != "block:done block:done block:done unblock:done block:refused" {
		t.Errorf("audit: %s", got)
	}
}

// TestContainmentGuardsOwnSSHSession logs in for real over SSH (a key
// login to sshd in a namespace, from the host's side of the link) and runs
// portwarden inside that session: closing the connections of the
// admin's own peer, or blocking it, is refused without --force.
func TestContainmentGuardsOwnSSHSession(t *testing.T) {
	f := newNSFixture(t)
	sshd, err := sockettest.StartSSHDAt(t.TempDir(), f.peer.Peer4, f.peer.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer sshd.Stop()
	inSession := func(args ...string) (string, int) {
		cmdline := sshd.SSH(false, append([]string{f.bin}, append(args, "--netns", "self", "--audit-log", f.audit)...)...)
		return combinedOutput(t, exec.Command(cmdline[0], cmdline[1:]...))
	}
	waitUntil(t, "an SSH login", func() bool { _, code := inSession("version"); return code == 0 })
	me := f.peer.Host4.String()
	out, code := inSession("close", "--yes", "--peer", me)
	if code != 1 || !strings.Contains(out, "your own SSH connection") || !strings.Contains(out, "--force") {
		t.Errorf("close --peer of my own address: exit %d, want a refusal\n%s", code, out)
	}
	out, code = inSession("block", "--yes", me)
	if code != 1 || !strings.Contains(out, "your own SSH session") {
		t.Errorf("block of my own address: exit %d, want a refusal\n%s", code, out)
	}
	if out, _ := exec.Command("ip", "netns", "exec", f.peer.Name, "nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), "portwarden") {
		t.Errorf("a refused block made a table:\n%s", out)
	}
	refused := 0
	for _, r := range readAudit(t, f.audit) {
		if r.Result == "refused" && (r.Action == "close" || r.Action == "block") {
			refused++
		}
	}
	if refused < 2 {
		t.Errorf("the refusals are not in the audit log: %+v", readAudit(t, f.audit))
	}
}
