package cli

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestRecordSurvivesAFullDisk runs the real recorder on a 2 MiB tmpfs
// (mounted in a mount namespace of its own, gone with it) and fills it
// with connections: the recorder keeps running and recording — the
// newest connection is in the record — counts what it gave up, says the
// error on stderr only, and stops cleanly.
func TestRecordSurvivesAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a mount namespace, the kernel's events")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.Mkdir(small, 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, _ := os.Create(filepath.Join(dir, "stdout"))
	stderr, _ := os.Create(filepath.Join(dir, "stderr"))
	defer stdout.Close()
	defer stderr.Close()
	rec := exec.Command("unshare", "--mount", "sh", "-c", `mount -t tmpfs -o size=2m pwfull "$0" && exec "$1" record --db "$0/h.db" --interval 200ms`, small, bin)
	rec.Stdout, rec.Stderr = stdout, stderr
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { rec.Process.Kill(); rec.Wait() }()
	said := func(f *os.File) string { b, _ := os.ReadFile(f.Name()); return string(b) }
	if !sockettest.WaitFor(20*time.Second, func() bool { return strings.Contains(said(stdout), "recording") }) {
		t.Fatalf("the recorder did not start: %s%s", said(stdout), said(stderr))
	}
	// Read inside the recorder's own mount namespace, where the tmpfs is.
	db := small + "/h.db"
	history := func(args ...string) (string, string, int) {
		return runBin(t, "nsenter", append([]string{"-t", strconv.Itoa(rec.Process.Pid), "-m", bin, "history", "--db", db}, args...)...)
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	connect := func(addr string) {
		if c, err := net.Dial("tcp4", addr); err == nil {
			c.Close()
		}
	}
	// 2,000 connections a second (paced: a load, not a wait), 4,000
	// lifetimes: some 80 KiB a commit.
	pace := time.NewTicker(100 * time.Millisecond)
	defer pace.Stop()
	full := sockettest.WaitFor(120*time.Second, func() bool {
		<-pace.C
		for range 200 {
			connect(ln.Addr().String())
		}
		return strings.Contains(said(stderr), "full")
	})
	if !full {
		t.Fatalf("the disk never filled: %s", said(stderr))
	}
	// Past the full disk, a new connection is still recorded.
	marker, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer marker.Close()
	go func() {
		if c, err := marker.Accept(); err == nil {
			c.Close()
		}
	}()
	port := strconv.Itoa(marker.Addr().(*net.TCPAddr).Port)
	connect(marker.Addr().String())
	recorded := sockettest.WaitFor(20*time.Second, func() bool {
		out, _, _ := history("--port", port, "--connections", "--json")
		return strings.Contains(out, `"local_port":`+port) || strings.Contains(out, `"remote_port":`+port)
	})
	if !recorded {
		out, errOut, _ := history("--stats")
		t.Errorf("the newest connection is not in the record: %s%s\nstderr: %s", out, errOut, said(stderr))
	}
	out, errOut, code := history("--stats", "--json")
	var stats struct {
		Dropped int `json:"dropped"`
	}
	if err := json.Unmarshal([]byte(out), &stats); err != nil || code != 0 || stats.Dropped == 0 {
		t.Errorf("history --stats: exit %d, %v, %s%s; want lifetimes counted as dropped", code, err, out, errOut)
	}
	if s := said(stdout); strings.Contains(s, "full") {
		t.Errorf("an error reached stdout:\n%s", s)
	}
	if err := rec.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := rec.Wait(); err != nil {
		t.Errorf("the recorder's stop: %v\nstderr: %s", err, said(stderr))
	}
}

// TestRecordGapsAreSaid kills a real recorder (SIGKILL) and starts it
// again: the blind spell between its last commit and the restart is a gap
// in history --stats (counted, timed) and said by history; after a clean
// stop, the time since is one too, said as a stop.
func TestRecordGapsAreSaid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the kernel's events")
	}
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "h.db")
	start := func() (*exec.Cmd, *os.File) {
		out, _ := os.CreateTemp(t.TempDir(), "stdout")
		rec := exec.Command(bin, "record", "--db", db, "--interval", "200ms")
		rec.Stdout, rec.Stderr = out, out
		if err := rec.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rec.Process.Kill(); rec.Wait(); out.Close() })
		return rec, out
	}
	type stats struct {
		Gaps       int     `json:"gaps"`
		GapSeconds float64 `json:"gap_seconds"`
		LastCommit string  `json:"last_commit"`
	}
	read := func() stats {
		var s stats
		out, errOut, code := runBin(t, bin, "history", "--db", db, "--stats", "--json")
		if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil {
			t.Fatalf("history --stats: exit %d, %v %s%s", code, err, out, errOut)
		}
		return s
	}
	rec, _ := start()
	if !sockettest.WaitFor(20*time.Second, func() bool { _, err := os.Stat(db); return err == nil && read().LastCommit != "" }) {
		t.Fatal("the recorder never committed")
	}
	rec.Process.Kill()
	rec.Wait()
	if s := read(); s.Gaps != 1 {
		t.Errorf("killed, none running: %d gaps, want the one since its last commit", s.Gaps)
	}
	rec, out := start()
	said := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	if !sockettest.WaitFor(20*time.Second, func() bool { return strings.Contains(said(), "recording") }) {
		t.Fatalf("the second recorder did not start: %s", said())
	}
	var s stats
	if !sockettest.WaitFor(10*time.Second, func() bool { s = read(); return s.Gaps == 1 }) || s.GapSeconds <= 0 || s.GapSeconds > 60 {
		t.Errorf("after the restart: %+v; want one gap, of the time between", s)
	}
	if _, errOut, code := runBin(t, bin, "history", "--db", db); code != 0 || !strings.Contains(errOut, "not recording from") ||
		!strings.Contains(errOut, "killed") {
		t.Errorf("history: exit %d, stderr %q; want the gap said", code, errOut)
	}
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil {
		t.Fatalf("the clean stop: %v %s", err, said())
	}
	if _, errOut, _ := runBin(t, bin, "history", "--db", db); !strings.Contains(errOut, "no recorder runs") || !strings.Contains(errOut, "the recorder was stopped") {
		t.Errorf("after a clean stop: stderr %q; want the time since said as a stop", errOut)
	}
	if s := read(); s.Gaps != 2 {
		t.Errorf("after a clean stop: %d gaps, want 2", s.Gaps)
	}
}

// TestHistoryNetNSFilters records connections in two namespaces of the
// test's own and asks history for one of them, by name and by inode: only
// its lifetimes come back (the flag was silently ignored).
func TestHistoryNetNSFilters(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: namespaces, the kernel's events")
	}
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "h.db")
	out, _ := os.CreateTemp(t.TempDir(), "stdout")
	defer out.Close()
	rec := exec.Command(bin, "record", "--db", db, "--interval", "200ms")
	rec.Stdout, rec.Stderr = out, out
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { rec.Process.Kill(); rec.Wait() }()
	if !sockettest.WaitFor(20*time.Second, func() bool { b, _ := os.ReadFile(out.Name()); return strings.Contains(string(b), "recording") }) {
		t.Fatal("the recorder did not start")
	}
	ports := map[string]int{}
	var names []string
	for _, prefix := range []string{"pwhista", "pwhistb"} {
		ns := sockettest.NamespaceForTest(t, prefix)
		names = append(names, ns.Name)
		if err := ns.Do(func() error {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				return err
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				if c, err := ln.Accept(); err == nil {
					c.Close()
				}
			}()
			ports[ns.Name] = ln.Addr().(*net.TCPAddr).Port
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err == nil {
				c.Close()
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := names[0], names[1]
	seen := func(args ...string) string {
		out, errOut, code := runBin(t, bin, append([]string{"history", "--db", db, "--connections", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("history %v: exit %d %s", args, code, errOut)
		}
		return out
	}
	port := func(name string) string { return `"local_port":` + strconv.Itoa(ports[name]) }
	if !sockettest.WaitFor(20*time.Second, func() bool { all := seen(); return strings.Contains(all, port(a)) && strings.Contains(all, port(b)) }) {
		t.Fatalf("both namespaces' connections never reached the record:\n%s", seen())
	}
	if got := seen("--netns", a); !strings.Contains(got, port(a)) || strings.Contains(got, port(b)) {
		t.Errorf("--netns %s: want its connection only:\n%s", a, got)
	}
	var inode uint64
	if fi, err := os.Stat("/run/netns/" + b); err == nil {
		inode = fi.Sys().(*syscall.Stat_t).Ino
	}
	if got := seen("--netns", strconv.FormatUint(inode, 10)); !strings.Contains(got, port(b)) || strings.Contains(got, port(a)) {
		t.Errorf("--netns %d (%s's inode): want its connection only:\n%s", inode, b, got)
	}
	if got := seen(); !strings.Contains(got, `"netns_name":"`+a+`"`) {
		t.Errorf("the lifetimes do not carry their namespace's name:\n%s", got)
	}
	if _, errOut, code := runBin(t, bin, "history", "--db", db, "--netns", "pw-no-such-namespace"); code != 2 || !strings.Contains(errOut, "pw-no-such-namespace") {
		t.Errorf("an unknown namespace: exit %d %q; want 2 naming it", code, errOut)
	}
}
