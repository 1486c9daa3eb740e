package app

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

func TestMain(m *testing.M) {
	sockettest.RunIfChild()
	os.Exit(m.Run())
}

// newApp returns an App whose baseline and audit log are the test's own,
// with the given session (nil: this process's).
func newApp(t *testing.T, opts Options) (*App, string) {
	t.Helper()
	dir := t.TempDir()
	opts.BaselinePath = filepath.Join(dir, "baseline.toml")
	opts.AuditPath = filepath.Join(dir, "audit.log")
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, opts.AuditPath
}

func readAudit(t *testing.T, path string) []audit.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	for l := range strings.Lines(string(b)) {
		var r audit.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestInspectFromManyGoroutines asks for snapshots from several goroutines
// at once, as the dashboard and an action might: collections are
// serialised (the race detector in the test command checks it) and each
// sees a real listener with its verdict carried alongside.
func TestInspectFromManyGoroutines(t *testing.T) {
	hs, addr, err := sockettest.HoldListener(1)
	if err != nil {
		t.Fatal(err)
	}
	defer hs[0].Close()
	a, _ := newApp(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			in, err := a.Inspect(sockets.Query{TCP: true, ListeningOnly: true})
			if err != nil {
				errs <- err
				return
			}
			for _, j := range in.Judged {
				if j.Socket.Local == addr {
					if !j.Verdict.Unexpected || j.Verdict.Exposure != "loopback" {
						errs <- errors.New("wrong verdict for the held listener")
					}
					return
				}
			}
			errs <- errors.New("the held listener is not in the snapshot")
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestBrokenBaselineKeepsTheLastGoodOne: a baseline broken between two
// inspections is reported, and the verdicts keep using the last good one.
func TestBrokenBaselineKeepsTheLastGoodOne(t *testing.T) {
	a, _ := newApp(t, Options{})
	if err := baseline.Add(a.BaselinePath(), baseline.Entry{Proto: "tcp", Port: 22, Reason: "ssh", Owner: "ops"}); err != nil {
		t.Fatal(err)
	}
	if in, err := a.Inspect(sockets.Query{ListeningOnly: true}); err != nil || in.BaselineErr != nil || len(in.Baseline.Entries) != 1 {
		t.Fatalf("good baseline: %v %v", err, in.BaselineErr)
	}
	broken := []byte("[[listener]]\nport = oops\n")
	if err := os.WriteFile(a.BaselinePath(), broken, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := a.Inspect(sockets.Query{ListeningOnly: true})
	if err != nil || in.BaselineErr == nil || !strings.Contains(in.BaselineErr.Error(), ":2:") || len(in.Baseline.Entries) != 1 {
		t.Fatalf("broken baseline: %v, %v, %+v", err, in.BaselineErr, in.Baseline)
	}
	if got, _ := os.ReadFile(a.BaselinePath()); string(got) != string(broken) {
		t.Error("the broken baseline was rewritten")
	}
}

func TestMarkAndUnmarkAreRecorded(t *testing.T) {
	a, log := newApp(t, Options{})
	e := baseline.Entry{Proto: "tcp", Port: 8080, Bind: "127.0.0.1", Reason: "lab", Owner: "alice", Added: time.Now()}
	if err := a.Mark(e); err != nil {
		t.Fatal(err)
	}
	if err := a.Unmark(e); err != nil {
		t.Fatal(err)
	}
	if err := a.Unmark(e); err == nil {
		t.Error("unmarking an entry that is gone succeeded")
	}
	recs := readAudit(t, log)
	if len(recs) != 3 || recs[0].Action != "mark" || recs[0].Result != "done" || !strings.Contains(recs[0].Detail, `"lab", owner alice`) ||
		recs[1].Action != "unmark" || recs[1].Result != "done" || recs[2].Result != "failed" {
		t.Errorf("audit: %+v", recs)
	}
	if err := a.Mark(baseline.Entry{Proto: "sctp", Port: 1}); err == nil {
		t.Error("an invalid entry was marked")
	}
}

func TestReadOnlyRefusesAndRecords(t *testing.T) {
	a, log := newApp(t, Options{ReadOnly: true})
	err := a.Mark(baseline.Entry{Proto: "tcp", Port: 8080, Reason: "lab"})
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only mark: %v", err)
	}
	if _, err := os.Stat(a.BaselinePath()); err == nil {
		t.Error("read-only mark wrote the baseline")
	}
	p := a.PlanKill(nil, action.Target{PID: os.Getpid()}, syscall.SIGTERM)
	if !errors.Is(p.Refused, ErrReadOnly) {
		t.Errorf("read-only kill plan: %v", p.Refused)
	}
	if _, err := a.Kill(p, true); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only kill: %v", err)
	}
	if _, err := a.PlanDisable(nil, nil, 0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only disable plan: %v", err)
	}
	recs := readAudit(t, log)
	if len(recs) != 2 || recs[0].Result != "refused" || recs[1].Result != "refused" || recs[1].Action != "kill" {
		t.Errorf("audit: %+v", recs)
	}
}

// TestKillGuards plans kills of real processes: PID 1 is refused, a
// process the admin's session depends on is killed only when forced, and
// each outcome is recorded once.
func TestKillGuards(t *testing.T) {
	hs, addr, err := sockettest.HoldListener(1)
	if err != nil {
		t.Fatal(err)
	}
	h := hs[0]
	defer h.Close()
	session := action.Session{Self: os.Getpid(), Ancestors: []origin.Ancestor{{PID: h.PID, Name: "sshd"}}}
	a, log := newApp(t, Options{Session: &session, KillWait: 5 * time.Second})
	in, err := a.Inspect(sockets.Query{})
	if err != nil {
		t.Fatal(err)
	}

	init := a.PlanKill(in.Snapshot, action.Target{PID: 1, Name: "init"}, syscall.SIGTERM)
	if init.Refused == nil {
		t.Fatal("PID 1 may be killed")
	}
	if recs := readAudit(t, log); len(recs) != 0 {
		t.Errorf("planning recorded: %+v", recs)
	}
	if _, err := a.Kill(init, true); err == nil || !errors.Is(err, init.Refused) {
		t.Errorf("forced kill of PID 1: %v", err)
	}
	targets, err := a.KillTargets(in.Snapshot, "tcp/"+addr.String())
	if err != nil || len(targets) != 1 || targets[0].PID != h.PID {
		t.Fatalf("targets: %+v %v", targets, err)
	}
	p := a.PlanKill(in.Snapshot, targets[0], syscall.SIGTERM)
	if p.Refused != nil || p.Danger == "" || len(p.Holding.Sockets) != 1 {
		t.Fatalf("plan: %+v", p)
	}
	if _, err := a.Kill(p, false); !IsOwnSession(err) || !sockettest.Running(h.PID) {
		t.Fatalf("unforced kill of the session's process: %v", err)
	}
	ended, err := a.Kill(p, true)
	if err != nil || !ended || sockettest.Running(h.PID) {
		t.Fatalf("forced kill: ended %v, %v", ended, err)
	}
	recs := readAudit(t, log)
	want := []string{"refused", "refused", "done"}
	if len(recs) != len(want) {
		t.Fatalf("audit: %+v", recs)
	}
	for i, r := range recs {
		if r.Action != "kill" || r.Result != want[i] || r.Detail != "SIGTERM" {
			t.Errorf("audit record %d: %+v, want kill %s", i, r, want[i])
		}
	}
	if recs[2].Target == nil || recs[2].Target.PID != h.PID || recs[2].Target.StartTicks == 0 {
		t.Errorf("the kill's record names no process: %+v", recs[2])
	}
}
