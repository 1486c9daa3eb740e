package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
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
	if !slices.ContainsFunc(snap.Warnings, func(w string) bool {
		return strings.Contains(w, "could not evaluate the firewall") && strings.Contains(w, "reach is unknown")
	}) {
		t.Errorf("nobody cannot read the ruleset, and no warning says so: %q", snap.Warnings)
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
	if code != 0 || !strings.Contains(out, "| 23 | tcp | 0.0.0.0 | public | telnet | ") ||
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

// combinedOutput runs cmd and returns its stdout and stderr together and
// its exit code; it fails t if cmd could not be run at all.
func combinedOutput(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

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

// waitUntil fails the test unless cond holds within 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !sockettest.WaitFor(10*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
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
