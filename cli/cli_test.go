package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// snapshotJSON mirrors the documented `portwarden snapshot --json` schema.
type snapshotJSON struct {
	Time     string   `json:"time"`
	Host     string   `json:"host"`
	Complete *bool    `json:"complete"`
	Warnings []string `json:"warnings"`
	Sockets  []struct {
		Proto      string `json:"proto"`
		IPVersion  int    `json:"ip_version"`
		State      string `json:"state"`
		LocalIP    string `json:"local_ip"`
		LocalPort  int    `json:"local_port"`
		RemoteIP   string `json:"remote_ip"`
		RemotePort int    `json:"remote_port"`
		UID        *int   `json:"uid"`
		Inode      uint64 `json:"inode"`
		Processes  []struct {
			PID  int    `json:"pid"`
			Name string `json:"name"`
			Exe  string `json:"exe"`
			User string `json:"user"`
		} `json:"processes"`
	} `json:"sockets"`
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func decode(t *testing.T, out string) snapshotJSON {
	t.Helper()
	var snap snapshotJSON
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("snapshot --json is not JSON: %v\n%.500s", err, out)
	}
	return snap
}

func TestSnapshotJSONShowsRealListener(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	out, _, code := runCLI(t, "snapshot", "--json", "--listening", "--tcp", "-6")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	snap := decode(t, out)
	if snap.Complete == nil || snap.Host == "" || snap.Time == "" {
		t.Errorf("missing time, host or complete: %+v", snap)
	}
	found := false
	for _, s := range snap.Sockets {
		if s.Proto != "tcp" || s.IPVersion != 6 || s.State != "LISTEN" {
			t.Errorf("--listening --tcp -6 let through %s v%d %s", s.Proto, s.IPVersion, s.State)
		}
		if s.LocalIP == "::1" && s.LocalPort == port {
			found = true
			exe, _ := os.Executable()
			if s.RemoteIP != "::" || s.RemotePort != 0 || s.Inode == 0 || s.UID == nil ||
				len(s.Processes) != 1 || s.Processes[0].PID != os.Getpid() || s.Processes[0].Exe != exe || s.Processes[0].User == "" {
				t.Errorf("listener row wrong: %+v", s)
			}
		}
	}
	if !found {
		t.Errorf("listener [::1]:%d not in snapshot", port)
	}
}

func TestSnapshotTable(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, _, code := runCLI(t, "snapshot", "--listening")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "PROTO") {
		t.Fatalf("no header: %q", lines[0])
	}
	want := ln.Addr().String()
	for _, l := range lines[1:] {
		if strings.Contains(l, " "+want+" ") {
			f := strings.Fields(l)
			if f[0] != "tcp" || f[1] != "LISTEN" || f[3] != "*:*" || f[5] != strconv.Itoa(os.Getpid()) {
				t.Errorf("row %q", l)
			}
			// Columns align: the local address starts where the header's LOCAL does.
			if strings.Index(l, want) != strings.Index(lines[0], "LOCAL") {
				t.Errorf("row %q not aligned with header %q", l, lines[0])
			}
			return
		}
	}
	t.Errorf("listener %s not in table:\n%s", want, out)
}

func TestBadUsageExitsTwo(t *testing.T) {
	base := filepath.Join(t.TempDir(), "b.toml")
	for _, args := range [][]string{
		{"snapshot", "--bogus"},
		{"snapshot", "extra"},
		{"nonsense"},
		{"kill", "--dry-run", "tcp/abc"},
		{"kill", "--dry-run", ":99999"},
		{"kill", "--dry-run", "sctp/22"},
		{"kill", "--dry-run", "0"},
		{"disable", "--dry-run", "tcp/abc"},
		{"baseline", "add", "--baseline", base, "--bind", "notanip", "--reason", "x", "80"},
		{"baseline", "add", "--baseline", base, "--reason", "x", "tcp/0"},
		{"baseline", "frobnicate"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(strings.ToLower(stderr), "usage") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a usage message", args, code, stderr)
		}
	}
}

// TestUnprivilegedSnapshot runs the real binary as nobody against a
// listener held by this (root) process: the socket is listed, its owner is
// unknown, the snapshot says it is incomplete, and one hint goes to stderr.
func TestUnprivilegedSnapshot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop privileges to nobody")
	}
	bin := buildBinary(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := ln.Addr().(*net.TCPAddr).AddrPort()

	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "snapshot", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("snapshot as nobody: %v\n%s", err, stderr.String())
	}
	snap := decode(t, string(out))
	if snap.Complete == nil || *snap.Complete {
		t.Error("snapshot as nobody claims to be complete")
	}
	if !slices.ContainsFunc(snap.Warnings, func(w string) bool { return strings.Contains(w, "could not see the network namespace of") }) {
		t.Errorf("nobody cannot see root's namespaces, and no warning says so: %q", snap.Warnings)
	}
	found := false
	for _, s := range snap.Sockets {
		if s.LocalPort == int(want.Port()) && s.LocalIP == want.Addr().String() {
			found = true
			if len(s.Processes) != 0 {
				t.Errorf("nobody could read root's process: %+v", s.Processes)
			}
		}
	}
	if !found {
		t.Errorf("root's listener %v not listed for nobody", want)
	}
	if n := strings.Count(stderr.String(), "run as root"); n != 1 {
		t.Errorf("stderr has %d root hints, want 1: %q", n, stderr.String())
	}
}

// buildBinary builds portwarden into a directory that nobody can read.
func buildBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "portwarden-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "portwarden")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

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

func TestBaselineInitRemoveAndReport(t *testing.T) {
	f := newNSFixture(t)
	base := filepath.Join(t.TempDir(), "b.toml")
	out, errOut, code := f.run(t, "baseline", "init", "--owner", "auditor", "--baseline", base)
	if code != 0 || !strings.Contains(out, "recorded 2 listeners") {
		t.Fatalf("init: exit %d %s%s", code, out, errOut)
	}
	if _, errOut, code := f.run(t, "baseline", "init", "--baseline", base); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("second init: exit %d %s", code, errOut)
	}
	if out, _, code := f.run(t, "check", "--baseline", base); code != 0 {
		t.Errorf("check after init: exit %d\n%s", code, out)
	}
	out, _, code = f.run(t, "report", "--baseline", base)
	today := time.Now().Format("2006-01-02")
	if code != 0 || !strings.Contains(out, "| 23 | tcp | 0.0.0.0 | telnet | ") ||
		!strings.Contains(out, "| present at init | auditor | "+today+" | critical |") {
		t.Errorf("report: exit %d\n%s", code, out)
	}
	if out, errOut, code := f.run(t, "baseline", "remove", "--baseline", base, "tcp/23"); code != 0 || !strings.Contains(out, "removed 1") {
		t.Errorf("remove: exit %d %s%s", code, out, errOut)
	}
	if _, _, code := f.run(t, "baseline", "remove", "--baseline", base, "tcp/23"); code != 1 {
		t.Errorf("removing twice: exit %d, want 1", code)
	}
	if out, _, code := f.run(t, "check", "--baseline", base); code != 1 || !strings.Contains(out, "tcp 0.0.0.0:23 telnet") {
		t.Errorf("check after removing telnet: exit %d\n%s", code, out)
	}
	if _, errOut, code := f.run(t, "baseline", "add", "--baseline", base, "tcp/8080"); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Errorf("add without a reason: exit %d %s", code, errOut)
	}
}

// TestDashboardWithoutTerminal: with stdout not a terminal, or TERM=dumb,
// the dashboard prints the snapshot table and exits 0.
func TestDashboardWithoutTerminal(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	base := "--baseline=" + filepath.Join(t.TempDir(), "b.toml")
	out, _, code := runCLI(t, base)
	if code != 0 || !strings.HasPrefix(out, "PROTO") || !strings.Contains(out, ln.Addr().String()) {
		t.Errorf("no terminal: exit %d\n%s", code, out)
	}

	if os.Geteuid() != 0 {
		return
	}
	// A real terminal that says it is dumb: tmux gives the pty, and
	// `exec cat` keeps the pane open to be read.
	bin := buildBinary(t)
	sock := fmt.Sprintf("pwdumb-%d", os.Getpid())
	defer exec.Command("tmux", "-L", sock, "kill-server").Run()
	cmd := exec.Command("tmux", "-L", sock, "new-session", "-d", "-s", "dumb", "-x", "160", "-y", "50",
		// In an empty network namespace the table is short and the same every
		// run, whatever else this machine holds.
		"sh", "-c", `TERM=dumb unshare --net "$0" "$1" --netns self; echo "exit $?"; exec cat`, bin, base)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen, _ := exec.Command("tmux", "-L", sock, "capture-pane", "-p", "-t", "dumb").Output()
		if strings.Contains(string(screen), "exit ") {
			// Warnings (on stderr) may stand above the table.
			if !regexp.MustCompile(`(?m)^PROTO `).Match(screen) || !strings.Contains(string(screen), "exit 0") {
				t.Errorf("TERM=dumb on a terminal:\n%s", screen)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TERM=dumb did not print and exit:\n%s", screen)
		}
		time.Sleep(50 * time.Millisecond) // polling the screen, with a deadline
	}
}

func TestMain(m *testing.M) {
	sockettest.RunIfChild()
	os.Exit(m.Run())
}

// holdListener starts n holders sharing a fresh loopback listener.
func holdListener(t *testing.T, n int) ([]*sockettest.Holder, string) {
	t.Helper()
	hs, addr, err := sockettest.HoldListener(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		t.Cleanup(func() { h.Close() })
	}
	return hs, addr.String()
}

var running = sockettest.Running

func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

type auditLine struct {
	Action string `json:"action"`
	Result string `json:"result"`
	Detail string `json:"detail"`
	Target struct {
		PID        int    `json:"pid"`
		StartTicks uint64 `json:"start_ticks"`
		Exe        string `json:"exe"`
		Unit       string `json:"unit"`
	} `json:"target"`
}

func readAudit(t *testing.T, path string) []auditLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []auditLine
	for l := range strings.Lines(string(b)) {
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		lines = append(lines, a)
	}
	return lines
}

func TestKillCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("signals other processes' children as root")
	}
	bin := buildBinary(t)
	log := filepath.Join(t.TempDir(), "audit.log")
	hs, addr := holdListener(t, 1)
	h := hs[0]

	out, errOut, code := runBin(t, bin, "kill", "--dry-run", "--audit-log", log, "tcp/"+addr)
	if code != 0 || !strings.Contains(out, "SIGTERM to ") || !strings.Contains(out, fmt.Sprintf("pid %d", h.PID)) ||
		!strings.Contains(out, "holds    tcp "+addr+" LISTEN") || !strings.Contains(out, "dry run: nothing was sent") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if !running(h.PID) || len(readAudit(t, log)) != 0 {
		t.Fatal("a dry run acted or was recorded")
	}

	if _, errOut, code := runBin(t, bin, "kill", "--audit-log", log, "tcp/"+addr); code != 1 || !strings.Contains(errOut, "--yes") || !running(h.PID) {
		t.Errorf("without a terminal or --yes: exit %d %s", code, errOut)
	}

	out, errOut, code = runBin(t, bin, "kill", "--yes", "--audit-log", log, "tcp/"+addr)
	if code != 0 || !strings.Contains(out, "has ended") {
		t.Errorf("kill: exit %d\n%s%s", code, out, errOut)
	}
	if running(h.PID) {
		t.Error("the holder still runs")
	}
	recs := readAudit(t, log)
	if len(recs) != 1 || recs[0].Action != "kill" || recs[0].Result != "done" || recs[0].Detail != "SIGTERM" || recs[0].Target.PID != h.PID || recs[0].Target.StartTicks == 0 {
		t.Errorf("audit after kill: %+v", recs)
	}

	// A listener shared by two processes: listed, then --all.
	pair, shared := holdListener(t, 2)
	_, errOut, code = runBin(t, bin, "kill", "--yes", "--audit-log", log, shared)
	if code != 1 || !strings.Contains(errOut, "held by 2 processes") || !strings.Contains(errOut, strconv.Itoa(pair[0].PID)) ||
		!strings.Contains(errOut, strconv.Itoa(pair[1].PID)) || !running(pair[0].PID) || !running(pair[1].PID) {
		t.Errorf("ambiguous target: exit %d %s", code, errOut)
	}
	out, errOut, code = runBin(t, bin, "kill", "--yes", "--all", "--signal", "KILL", "--audit-log", log, shared)
	if code != 0 || running(pair[0].PID) || running(pair[1].PID) {
		t.Errorf("--all --signal KILL: exit %d\n%s%s", code, out, errOut)
	}

	_, errOut, code = runBin(t, bin, "kill", "--yes", "--audit-log", log, "1")
	if code != 1 || !strings.Contains(errOut, "PID 1 is init") {
		t.Errorf("PID 1: exit %d %s", code, errOut)
	}
	if recs := readAudit(t, log); recs[len(recs)-1].Result != "refused" {
		t.Errorf("refusal not recorded: %+v", recs[len(recs)-1])
	}
	others, addr2 := holdListener(t, 1)
	if _, errOut, code := runBin(t, bin, "kill", "--yes", "--read-only", addr2); code != 1 || !strings.Contains(errOut, "read-only") || !running(others[0].PID) {
		t.Errorf("--read-only: exit %d %s", code, errOut)
	}
	if _, _, code := runBin(t, bin, "kill", "--signal", "HUP", addr2); code != 2 {
		t.Errorf("bad signal: exit %d, want 2", code)
	}
}

// TestDisableCommand disables a real xinetd service from the command line.
func TestDisableCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("xinetd needs root")
	}
	bin := buildBinary(t)
	x, err := sockettest.StartXinetd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Stop()
	port := x.Port
	target := fmt.Sprintf("tcp/127.0.0.1:%d", port)
	listening := func() bool {
		out, _, _ := runBin(t, bin, "snapshot", "--listening", "--tcp", "-4", "--baseline", filepath.Join(t.TempDir(), "b"))
		return strings.Contains(out, fmt.Sprintf(" 127.0.0.1:%d ", port))
	}
	waitUntil(t, "xinetd listens", listening)

	log := filepath.Join(t.TempDir(), "audit.log")
	out, errOut, code := runBin(t, bin, "disable", "--dry-run", "--audit-log", log, target)
	if code != 0 || !strings.Contains(out, "disable xinetd service echo:") || !strings.Contains(out, "1. set \"disable = yes\"") ||
		!strings.Contains(out, "2. reload xinetd") || !strings.Contains(out, "dry run") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(x.ServiceFile); string(b) != x.Service || len(readAudit(t, log)) != 0 {
		t.Fatal("the dry run changed or recorded something")
	}
	out, errOut, code = runBin(t, bin, "disable", "--yes", "--audit-log", log, target)
	if code != 0 || !strings.Contains(out, "disabled xinetd service echo") {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errOut)
	}
	waitUntil(t, "the port to go", func() bool { return !listening() })
	if recs := readAudit(t, log); len(recs) != 1 || recs[0].Action != "disable" || recs[0].Result != "done" || !strings.Contains(recs[0].Detail, x.ServiceFile) {
		t.Errorf("audit: %+v", recs)
	}
	if _, errOut, code := runBin(t, bin, "disable", "--yes", "--audit-log", log, target); code != 1 || !strings.Contains(errOut, "nothing listens") {
		t.Errorf("disabling again: exit %d %s", code, errOut)
	}
	// Something portwarden cannot tell the starter of: it says what it knows.
	hs, addr := holdListener(t, 1)
	_, errOut, code = runBin(t, bin, "disable", "--yes", "--audit-log", log, "tcp/"+addr)
	if code != 1 || !strings.Contains(errOut, "cannot tell what starts") || !strings.Contains(errOut, strconv.Itoa(hs[0].PID)) {
		t.Errorf("unknown starter: exit %d %s", code, errOut)
	}
}

// TestDisableSystemdCommand disables Debian's own ssh units (the
// openssh-server package's ssh.service and ssh.socket) in a real systemd
// booted in namespaces of its own, with portwarden run inside that box.
func TestDisableSystemdCommand(t *testing.T) {
	if _, err := os.Stat("/lib/systemd/system/ssh.socket"); err != nil {
		t.Skip("openssh-server is not installed (scripts/test.sh installs it)")
	}
	bin := buildBinary(t)
	box := sockettest.SystemdForTest(t, t.TempDir(), nil)
	if err := box.NoDefaultDependencies("ssh.service", "ssh.socket"); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Systemctl("enable", "--now", "ssh.service"); err != nil {
		t.Fatal(err)
	}
	var sshEnv []string // the environment of an SSH session, when set
	inBox := func(args ...string) (string, string, int) {
		cmd := box.Command(bin, args...)
		cmd.Env = append(os.Environ(), sshEnv...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}
	listening := func() bool {
		out, _, _ := inBox("snapshot", "--listening", "--tcp", "--baseline", filepath.Join(t.TempDir(), "b"))
		return strings.Contains(out, ":22 ")
	}
	waitUntil(t, "sshd to listen on port 22 in the box", listening)

	log := filepath.Join(t.TempDir(), "audit.log")
	out, errOut, code := inBox("disable", "--dry-run", "--audit-log", log, "tcp/22")
	if code != 0 || !strings.Contains(out, "disable systemd unit ssh.service:") || !strings.Contains(out, "1. stop ssh.service") ||
		!strings.Contains(out, "2. disable ssh.service") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if state, _ := box.Systemctl("is-enabled", "ssh.service"); state != "enabled" || !listening() {
		t.Fatalf("the dry run changed something: %s", state)
	}
	// An admin who came in over SSH on port 22 is about to lock
	// themselves out: --yes is not enough.
	sshEnv = []string{"SSH_CONNECTION=198.51.100.20 50022 127.0.0.1 22"}
	out, errOut, code = inBox("disable", "--yes", "--audit-log", log, "tcp/22")
	if code != 1 || !strings.Contains(errOut, "DANGER: this is the SSH listener (port 22)") || !strings.Contains(errOut, "add --force") {
		t.Fatalf("disabling the session's own sshd with --yes: exit %d\n%s%s", code, out, errOut)
	}
	if recs := readAudit(t, log); len(recs) != 1 || recs[0].Result != "refused" {
		t.Errorf("audit of the refusal: %+v", recs)
	}
	sshEnv = nil

	// sshd listens on 0.0.0.0:22 and [::]:22: one service, one plan.
	out, errOut, code = inBox("disable", "--yes", "--audit-log", log, "tcp/22")
	if code != 0 || !strings.Contains(out, "disabled systemd unit ssh.service") {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errOut)
	}
	waitUntil(t, "port 22 to go", func() bool { return !listening() })
	if state, _ := box.Command("systemctl", "is-enabled", "ssh.service").Output(); strings.TrimSpace(string(state)) != "disabled" {
		t.Errorf("systemctl is-enabled ssh.service = %q after disable", state)
	}
	recs := readAudit(t, log)
	if len(recs) != 2 || recs[1].Action != "disable" || recs[1].Result != "done" || recs[1].Target.Exe != "/usr/sbin/sshd" ||
		recs[1].Target.Unit != "ssh.service" || !strings.Contains(recs[1].Detail, "stop ssh.service") {
		t.Errorf("audit: %+v", recs)
	}

	// Socket activation: systemd itself holds the listener for ssh.socket,
	// enabled for boot. Disable it; then start it by hand and mask it.
	if _, err := box.Systemctl("enable", "--now", "ssh.socket"); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ flag, step, state string }{{"", "2. disable ssh.socket", "disabled"}, {"--mask", "2. mask ssh.socket", "masked"}} {
		if i > 0 {
			if _, err := box.Systemctl("start", "ssh.socket"); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, "ssh.socket to listen", listening)
		args := []string{"disable", "--yes", "--audit-log", log, "tcp/22"}
		if c.flag != "" {
			args = slices.Insert(args, 1, c.flag)
		}
		out, errOut, code = inBox(args...)
		if code != 0 || !strings.Contains(out, "1. stop ssh.socket") || !strings.Contains(out, c.step) {
			t.Fatalf("disable %s: exit %d\n%s%s", c.flag, code, out, errOut)
		}
		waitUntil(t, "port 22 to go", func() bool { return !listening() })
		if state, _ := box.Command("systemctl", "is-enabled", "ssh.socket").Output(); strings.TrimSpace(string(state)) != c.state {
			t.Errorf("systemctl is-enabled ssh.socket = %q after disable %s, want %s", state, c.flag, c.state)
		}
		recs := readAudit(t, log)
		if last := recs[len(recs)-1]; len(recs) != 3+i || last.Result != "done" || last.Target.PID != 1 || !strings.Contains(last.Detail, strings.TrimPrefix(c.step, "2. ")) {
			t.Errorf("audit after disable %s: %+v", c.flag, recs)
		}
	}
}

// waitUntil fails the test unless cond holds within 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !sockettest.WaitFor(10*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestKillGuardsOwnSSHSession logs in to a real sshd with a key and runs
// portwarden inside the session: the sshd it came through is protected.
func TestKillGuardsOwnSSHSession(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sshd needs root")
	}
	bin := buildBinary(t)
	sshd, err := sockettest.StartSSHD(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sshd.Stop()
	ssh := func(command ...string) (string, string, int) {
		args := sshd.SSH(false, command...)
		return runBin(t, args[0], args[1:]...)
	}
	waitUntil(t, "an SSH login", func() bool { _, _, code := ssh("true"); return code == 0 })
	target := fmt.Sprintf("tcp/127.0.0.1:%d", sshd.Port)
	log := filepath.Join(t.TempDir(), "audit.log")

	out, errOut, code := ssh(bin, "kill", "--yes", "--audit-log", log, target)
	if code != 1 || !strings.Contains(out, "your own SSH session") || !strings.Contains(errOut, "--force") {
		t.Errorf("kill of our own sshd from inside the session: exit %d\n%s%s", code, out, errOut)
	}
	if !running(sshd.PID()) {
		t.Fatal("the session's sshd was killed")
	}
	if recs := readAudit(t, log); len(recs) != 1 || recs[0].Result != "refused" {
		t.Errorf("audit: %+v", recs)
	}
	// A dry run says the real run would be refused, and exits 1.
	out, errOut, code = ssh(bin, "kill", "--dry-run", "--audit-log", log, target)
	if code != 1 || !strings.Contains(out, "!!! DANGER") || !strings.Contains(errOut, "a real run would refuse this") {
		t.Errorf("dry run inside the session: exit %d\n%s%s", code, out, errOut)
	}
	if recs := readAudit(t, log); len(recs) != 1 {
		t.Errorf("the dry run was recorded: %+v", recs)
	}
	// Outside any SSH session the same sshd is an ordinary process.
	out, _, code = runBin(t, bin, "kill", "--dry-run", target)
	if code != 0 || strings.Contains(out, "DANGER") || !strings.Contains(out, fmt.Sprintf("pid %d", sshd.PID())) {
		t.Errorf("dry run outside: exit %d\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, code := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, "portwarden ") || !strings.Contains(out, "commit ") || !strings.Contains(out, "built ") {
			t.Errorf("%v: exit %d %q", args, code, out)
		}
	}
}

// TestKillNamesWhatIsNotThere: a PID that does not exist is "no such
// process", not "already exited"; nothing is recorded.
func TestKillNamesWhatIsNotThere(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.log")
	pid := strconv.Itoa(1 << 22) // above any pid_max
	_, errOut, code := runCLI(t, "kill", "--dry-run", "--audit-log", log, pid)
	if code != 1 || !strings.Contains(errOut, "pid "+pid+": no such process") {
		t.Errorf("kill %s: exit %d %q", pid, code, errOut)
	}
	if _, err := os.Stat(log); err == nil {
		t.Error("a kill of nothing was recorded")
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
