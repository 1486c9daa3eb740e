package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorderForTest starts `portwarden record` on db and waits for its
// first commit; the returned stop ends it with sig and returns its exit.
func recorderForTest(t *testing.T, bin, db string) (stop func(syscall.Signal) error) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "record", "--db", db)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop = func(sig syscall.Signal) error {
		if stopped {
			return nil
		}
		stopped = true
		cmd.Process.Signal(sig) // the PID this test started
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			return fmt.Errorf("the recorder did not stop on %v: %s", sig, out.String())
		}
	}
	t.Cleanup(func() { stop(syscall.SIGKILL) })
	start := time.Now()
	waitUntil(t, "the recorder's first commit", func() bool {
		var s struct {
			LastCommit string `json:"last_commit"`
		}
		text, _, code := runBin(t, bin, "history", "--db", db, "--stats", "--json")
		if code != 0 || json.Unmarshal([]byte(text), &s) != nil || s.LastCommit == "" {
			return false
		}
		at, err := time.Parse(time.RFC3339Nano, s.LastCommit)
		return err == nil && at.After(start)
	})
	return stop
}

type listenerLine struct {
	LocalPort uint16 `json:"local_port"`
	PID       int    `json:"pid"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	Open      bool   `json:"open"`
	Source    string `json:"source"`
}

func listenerLines(t *testing.T, bin, db string, port int) []listenerLine {
	out, errOut, code := runBin(t, bin, "history", "--db", db, "--since", "all", "--listeners", "--port", fmt.Sprint(port), "--json")
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, errOut)
	}
	var lines []listenerLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var x listenerLine
		if l != "" && json.Unmarshal([]byte(l), &x) == nil {
			lines = append(lines, x)
		}
	}
	return lines
}

func listen(t *testing.T) (net.Listener, int) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// TestRecorderKilledAndRestarted: what a recorder committed survives
// kill -9; on restart a listener still open is taken up (one lifetime,
// first seen as before) and one closed meanwhile ends at the last commit.
func TestRecorderKilledAndRestarted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the recorder reads every namespace as root")
	}
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "history.db")
	stop := recorderForTest(t, bin, db)

	brief, briefPort := listen(t)
	brief.Close()
	kept, keptPort := listen(t)
	defer kept.Close()
	gone, gonePort := listen(t)
	waitUntil(t, "three listeners recorded", func() bool {
		b, k, g := listenerLines(t, bin, db, briefPort), listenerLines(t, bin, db, keptPort), listenerLines(t, bin, db, gonePort)
		return len(b) == 1 && !b[0].Open && len(k) == 1 && k[0].Open && len(g) == 1 && g[0].Open
	})
	before := listenerLines(t, bin, db, keptPort)[0]
	if err := stop(syscall.SIGKILL); err == nil {
		t.Fatal("the recorder survived SIGKILL")
	}
	killed := time.Now()
	gone.Close() // while nothing records

	stop = recorderForTest(t, bin, db)
	if b := listenerLines(t, bin, db, briefPort); len(b) != 1 || b[0].Open || b[0].PID != os.Getpid() || b[0].Source != "ebpf" {
		t.Errorf("the brief listener after the restart: %+v", b)
	}
	if k := listenerLines(t, bin, db, keptPort); len(k) != 1 || !k[0].Open || k[0].FirstSeen != before.FirstSeen {
		t.Errorf("the kept listener after the restart: %+v, want one open lifetime first seen %s", k, before.FirstSeen)
	}
	g := listenerLines(t, bin, db, gonePort)
	if len(g) != 1 || g[0].Open {
		t.Fatalf("the listener closed while the recorder was dead: %+v, want one closed lifetime", g)
	}
	if last, err := time.Parse(time.RFC3339Nano, g[0].LastSeen); err != nil || last.After(killed) {
		t.Errorf("it ended at %s, after the kill at %s: the last commit is the latest it was known open", g[0].LastSeen, killed)
	}
	if err := stop(syscall.SIGTERM); err != nil {
		t.Errorf("the recorder on SIGTERM: %v", err)
	}
}

// TestRecordAndHistoryRefuseAForeignFile: exit 2, a message naming the
// file, and the file as it was.
func TestRecordAndHistoryRefuseAForeignFile(t *testing.T) {
	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "notes.db")
	content := []byte("my notes, not a database\n")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"history", "--db", path}, {"record", "--db", path, "--source", "poll"}} {
		_, errOut, code := runBin(t, bin, args...)
		if code != 2 || !strings.Contains(errOut, path) || !strings.Contains(errOut, "left untouched") {
			t.Errorf("%s: exit %d, %q; want 2 naming the file", args[0], code, errOut)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, content) {
			t.Fatalf("%s changed the file", args[0])
		}
	}
	if _, errOut, code := runBin(t, bin, "history", "--db", path+".missing"); code != 2 || !strings.Contains(errOut, "recorder") {
		t.Errorf("a missing record: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runBin(t, bin, "history", "--db", path, "--since", "yesterday"); code != 2 || !strings.Contains(errOut, "--since") {
		t.Errorf("a bad --since: exit %d, %q", code, errOut)
	}
}

// briefListener listens on port in f's namespace for 300 ms and waits
// for the recorder writing at db to record its end.
func briefListener(t *testing.T, f *nsFixture, db string, port int) {
	t.Helper()
	var ln net.Listener
	if err := f.peer.Do(func() (err error) { ln, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port)); return err }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // how long the listener lives, not a wait for anything
	ln.Close()
	waitUntil(t, fmt.Sprintf("the end of the listener on %d in the record", port), func() bool {
		out, _, _ := runBin(t, f.bin, "history", "--db", db, "--listeners", "--port", strconv.Itoa(port), "--json")
		return strings.Contains(out, `"open":false`)
	})
}

// TestCheckJudgesWhatCameAndWentBetweenRuns: an IRC listener that lived
// 300 ms between two checks fails the second, named with when it lived,
// and only that one.
func TestCheckJudgesWhatCameAndWentBetweenRuns(t *testing.T) {
	f := newNSFixture(t)
	db := filepath.Join(t.TempDir(), "history.db")
	recorderForTest(t, f.bin, db)
	base := filepath.Join(t.TempDir(), "baseline.toml")
	if out, errOut, code := f.run(t, "baseline", "init", "--baseline", base); code != 0 {
		t.Fatalf("baseline init: exit %d %s%s", code, out, errOut)
	}
	check := []string{"check", "--baseline", base, "--history-db", db}
	if out, errOut, code := f.run(t, check...); code != 0 || !strings.Contains(errOut, "from now on") {
		t.Fatalf("the first check: exit %d\n%s%s", code, out, errOut)
	}
	briefListener(t, f, db, 6667)
	out, errOut, code := f.run(t, check...)
	if code != 1 || !strings.Contains(out, "between checks") || !strings.Contains(out, "0.0.0.0:6667") || !strings.Contains(out, "not in baseline") {
		t.Errorf("the check after it: exit %d, want 1 naming the listener\n%s%s", code, out, errOut)
	}
	if out, errOut, code := f.run(t, check...); code != 0 {
		t.Errorf("the next check: exit %d, want 0: the listener was reported once\n%s%s", code, out, errOut)
	}
	// Again, for a script: the JSON names it and is not ok.
	briefListener(t, f, db, 6668)
	out, errOut, code = f.run(t, append(check, "--json")...)
	var doc struct {
		OK            bool `json:"ok"`
		BetweenChecks *struct {
			Failing []struct {
				LocalPort int    `json:"local_port"`
				FirstSeen string `json:"first_seen"`
				NetNS     *struct {
					Inode uint64  `json:"inode"`
					Name  *string `json:"name"`
				} `json:"netns"`
			} `json:"failing"`
		} `json:"between_checks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 1 || doc.OK || doc.BetweenChecks == nil ||
		len(doc.BetweenChecks.Failing) != 1 || doc.BetweenChecks.Failing[0].LocalPort != 6668 || doc.BetweenChecks.Failing[0].FirstSeen == "" {
		t.Fatalf("check --json after it: exit %d (%v), want 1 with the listener under between_checks\n%s%s", code, err, out, errOut)
	}
	// Its namespace, as the recorder named it: the peer's, not null.
	if ns := doc.BetweenChecks.Failing[0].NetNS; ns == nil || ns.Inode == 0 || ns.Name == nil || *ns.Name != f.peer.Name {
		t.Errorf("the listener's namespace %+v, want %s's with its inode", ns, f.peer.Name)
	}
}
