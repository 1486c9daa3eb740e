package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestAppendWritesJSONLines(t *testing.T) {
	log := Log{Path: filepath.Join(t.TempDir(), "var", "log", "portwarden", "audit.log")}
	recs := []Record{
		{Action: "kill", Target: &Process{PID: 812, StartTicks: 99, Name: "sshd", Exe: "/usr/sbin/sshd"}, Detail: "SIGTERM", Result: "done"},
		{Action: "mark", Detail: "tcp/22 \"admin\"\nssh", Result: "failed", Error: "locked"},
	}
	for _, r := range recs {
		if err := log.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(log.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o640 {
		t.Errorf("audit log mode %v, want 0640", fi.Mode().Perm())
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var got Record
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", n+1, err, sc.Text())
		}
		if got.Action != recs[n].Action || got.Detail != recs[n].Detail || got.User == "" || got.Time.IsZero() {
			t.Errorf("line %d: %+v", n+1, got)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
}
