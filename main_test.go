package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	code = run(args, &out, &errOut)
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
	for _, args := range [][]string{
		{"snapshot", "--bogus"},
		{"snapshot", "extra"},
		{"nonsense"},
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
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
