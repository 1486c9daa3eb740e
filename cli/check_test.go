package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// nsFixture is a network namespace holding a telnet listener on 0.0.0.0:23
// (wildcard binds are safe there), an SSH-alt listener on the namespace's
// documentation address, and a connection to it from the host side, which
// the namespace sees as an inbound connection from an external peer.
type nsFixture struct {
	peer  *sockettest.ExternalPeer
	bin   string
	audit string // the audit log of every command run
}

func newNSFixture(t *testing.T) *nsFixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	peer, err := sockettest.NewExternalPeer(netip.MustParsePrefix("198.51.100.64/26"), netip.MustParsePrefix("2001:db8:113::/64"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := peer.Close(); err != nil {
			t.Error(err)
		}
	})
	var telnet, sshAlt net.Listener
	err = peer.Do(func() (err error) {
		if telnet, err = net.Listen("tcp4", "0.0.0.0:23"); err != nil {
			return err
		}
		sshAlt, err = net.Listen("tcp4", netip.AddrPortFrom(peer.Peer4, 2222).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { telnet.Close(); sshAlt.Close() })
	return &nsFixture{peer: peer, bin: buildBinary(t), audit: filepath.Join(t.TempDir(), "audit.log")}
}

// connectFromOutside opens a connection from the host to the namespace's
// SSH-alt listener: seen from inside, an external peer.
func (f *nsFixture) connectFromOutside(t *testing.T) {
	t.Helper()
	c, err := net.Dial("tcp4", netip.AddrPortFrom(f.peer.Peer4, 2222).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

// run runs the real binary inside the namespace, reading that namespace
// only and recording actions in the fixture's own audit log.
func (f *nsFixture) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := f.peer.Command(f.bin, append(args, "--audit-log", f.audit, "--netns", "self")...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func TestCheckExitCodes(t *testing.T) {
	f := newNSFixture(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.toml")

	// No baseline: every listener is unexpected, telnet loudly so, and
	// the hint names the baseline the admin asked for.
	out, errOut, code := f.run(t, "check", "--baseline", base)
	if code != 1 || !strings.Contains(out, "telnet listening on all IPv4 interfaces (0.0.0.0)") ||
		!strings.Contains(out, "critical-risk service: telnet") || !strings.Contains(errOut, "`portwarden baseline init --baseline "+base+"`") {
		t.Errorf("no baseline: exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ = f.run(t, "check", "--json", "--baseline", base)
	var missing struct {
		Baseline struct {
			Path   string `json:"path"`
			Exists *bool  `json:"exists"`
		} `json:"baseline"`
	}
	if err := json.Unmarshal([]byte(out), &missing); err != nil || missing.Baseline.Path != base || missing.Baseline.Exists == nil || *missing.Baseline.Exists {
		t.Errorf("check --json does not say the baseline is missing: %v\n%s", err, out)
	}

	// Baseline both listeners: all clear.
	for _, args := range [][]string{
		{"baseline", "add", "--reason", "legacy device access", "--owner", "ops", "--baseline", base, "tcp/23"},
		{"baseline", "add", "--baseline", base, "--reason", "admin ssh", "2222"},
	} {
		if out, errOut, code := f.run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d %s%s", args, code, out, errOut)
		}
	}
	if out, errOut, code := f.run(t, "check", "--baseline", base); code != 0 || !strings.HasPrefix(out, "ok: 2 listeners") {
		t.Errorf("baselined: exit %d\n%s%s", code, out, errOut)
	}
	// The same entry again is already there: said, and nothing written.
	before, _ := os.ReadFile(base)
	if out, errOut, code := f.run(t, "baseline", "add", "--baseline", base, "--reason", "admin ssh", "2222"); code != 0 ||
		!strings.Contains(out, "tcp/2222 is already in") {
		t.Errorf("adding twice: exit %d %s%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(base); string(after) != string(before) {
		t.Errorf("adding twice wrote:\n%s", after)
	}

	// An external peer connects in to a listener the baseline expects: the
	// service doing its job. Counted in the metrics, not a failure.
	f.connectFromOutside(t)
	prom := filepath.Join(dir, "textfile", "portwarden.prom")
	os.MkdirAll(filepath.Dir(prom), 0o755)
	out, errOut, code = f.run(t, "check", "--json", "--prometheus", prom, "--baseline", base)
	if code != 0 {
		t.Errorf("external client of an expected listener: exit %d, want 0\n%s%s", code, out, errOut)
	}
	var res struct {
		OK            bool `json:"ok"`
		Unexpected    []json.RawMessage
		RiskyExternal []json.RawMessage `json:"risky_external"`
		Policy        struct {
			FailOn         string `json:"fail_on"`
			FailOnExternal string `json:"fail_on_external"`
		} `json:"policy"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	if !res.OK || len(res.Unexpected) != 0 || len(res.RiskyExternal) != 0 || res.Policy.FailOn != "none" || res.Policy.FailOnExternal != "high" {
		t.Errorf("check --json: %+v", res)
	}
	metrics, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`portwarden_listeners{proto="tcp"} 2`, `portwarden_external_connections{direction="inbound"} 1`,
		"portwarden_risky_external_connections 0", "portwarden_check_ok 1", `portwarden_unexpected_listeners{risk="critical"} 0`} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	if _, errOut, code := f.run(t, "check", "--fail-on", "severe", "--baseline", base); code != 2 || !strings.Contains(errOut, "--fail-on") {
		t.Errorf("a bad --fail-on: exit %d %s", code, errOut)
	}

	// A corrupt baseline is an error (2), named by line, and left as it is.
	corrupt := []byte("[[listener]]\nproto = \"tcp\"\nport = twenty-three\n")
	os.WriteFile(base, corrupt, 0o644)
	_, errOut, code = f.run(t, "check", "--baseline", base)
	if code != 2 || !strings.Contains(errOut, "baseline.toml:3:") {
		t.Errorf("corrupt baseline: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := f.run(t, "baseline", "add", "--reason", "x", "--baseline", base, "tcp/80"); code != 1 || !strings.Contains(errOut, "not changed") {
		t.Errorf("baseline add on a corrupt file: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(base); !bytes.Equal(got, corrupt) {
		t.Errorf("corrupt baseline was rewritten:\n%s", got)
	}
}

// TestCheckPolicyWithRealSSHD: after baseline init, an admin logged in over
// SSH from an external-looking address does not fail check; an unexpected
// listener or an outbound connection to IRC does.
func TestCheckPolicyWithRealSSHD(t *testing.T) {
	f := newNSFixture(t)
	sshd, err := sockettest.StartSSHDAt(t.TempDir(), f.peer.Peer4, f.peer.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer sshd.Stop()
	ssh := func(command ...string) *exec.Cmd {
		args := sshd.SSH(false, command...)
		return exec.Command(args[0], args[1:]...)
	}
	waitUntil(t, "an SSH login from outside", func() bool { return ssh("true").Run() == nil })

	base := filepath.Join(t.TempDir(), "baseline.toml")
	if out, errOut, code := f.run(t, "baseline", "init", "--baseline", base); code != 0 || !strings.Contains(out, "recorded 3 listeners") {
		t.Fatalf("baseline init: exit %d %s%s", code, out, errOut)
	}
	// An admin session from the host, an external address as the namespace
	// sees it, held open while check runs.
	session := ssh("sleep", "60")
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { session.Process.Kill(); session.Wait() }()
	sshPort := fmt.Sprintf("%s:%d ", f.peer.Peer4, sshd.Port)
	waitUntil(t, "the SSH session", func() bool {
		out, _, _ := f.run(t, "snapshot", "--tcp", "--baseline", base)
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "ESTABLISHED  "+sshPort) && strings.Contains(l, "EXTERNAL") {
				return true
			}
		}
		return false
	})
	if out, errOut, code := f.run(t, "check", "--baseline", base); code != 0 || !strings.HasPrefix(out, "ok: 3 listeners") {
		t.Errorf("check with an external SSH session to the expected sshd: exit %d\n%s%s", code, out, errOut)
	}

	// Outbound from the namespace to IRC on an outside address: unusual.
	irc, err := net.Listen("tcp4", netip.AddrPortFrom(f.peer.Host4, 6667).String())
	if err != nil {
		t.Fatal(err)
	}
	defer irc.Close()
	var bot net.Conn
	if err := f.peer.Do(func() (err error) { bot, err = net.Dial("tcp4", irc.Addr().String()); return err }); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := f.run(t, "check", "--baseline", base)
	if code != 1 || !strings.Contains(out, "unusual external connections (1)") || !strings.Contains(out, "outbound to external "+f.peer.Host4.String()+" on irc") {
		t.Errorf("check with an outbound IRC connection: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := f.run(t, "check", "--fail-on-external", "critical", "--baseline", base); code != 0 {
		t.Errorf("--fail-on-external critical still fails on IRC (high): exit %d", code)
	}
	bot.Close()

	// A listener nobody documented.
	var extra net.Listener
	if err := f.peer.Do(func() (err error) { extra, err = net.Listen("tcp4", "0.0.0.0:8081"); return err }); err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	out, errOut, code = f.run(t, "check", "--baseline", base)
	if code != 1 || !strings.Contains(out, "unexpected listeners (1)") || !strings.Contains(out, "tcp 0.0.0.0:8081") {
		t.Errorf("check with an unexpected listener: exit %d\n%s%s", code, out, errOut)
	}
}
