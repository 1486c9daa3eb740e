package logins_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/logins"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestFailedPasswordsFromARealSSHD: wrong passwords tried against a real
// sshd from another namespace, logged by a real rsyslogd in both of its
// formats, are counted per peer with the users tried — once each, however
// often the log is read.
func TestFailedPasswordsFromARealSSHD(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	auth := sockettest.AuthBedForTest(t, bed.Server, bed.ServerPublic4, sockettest.AuthBedOptions{})
	start := time.Now().Add(-time.Second)
	for _, user := range []string{"root", "root", "bob"} {
		if err := auth.FailPassword(bed.Public, netip.Addr{}, user); err != nil {
			t.Fatal(err)
		}
	}
	client, _ := bed.ClientAddrs()
	for _, path := range []string{auth.AuthLog, auth.TraditionalLog} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tally := logins.NewTally(start.Add(-time.Minute))
			f := logins.OpenFile(path)
			var got []logins.Failures
			ok := sockettest.WaitFor(10*time.Second, func() bool {
				if err := f.Read(tally, time.Now()); err != nil {
					t.Fatal(err)
				}
				got = tally.Of(client[0])
				return len(got) == 1 && got[0].Count >= 3
			})
			if !ok || got[0].Count != 3 || !slices.Equal(got[0].Users, []string{"bob", "root"}) || got[0].Service != "sshd" {
				log, _ := os.ReadFile(path)
				t.Fatalf("failures of %s: %+v; want 3 by sshd, users bob and root; the log:\n%s", client[0], got, log)
			}
			// The traditional format has whole seconds: the window is wide.
			if got[0].First.Before(start.Add(-time.Second)) || got[0].Last.After(time.Now().Add(time.Second)) {
				t.Errorf("times %v–%v outside the test's %v–now", got[0].First, got[0].Last, start)
			}
			if err := f.Read(tally, time.Now()); err != nil || tally.Of(client[0])[0].Count != 3 {
				t.Errorf("a second read counted again: %+v (%v)", tally.Of(client[0]), err)
			}
			if others := tally.Failures(); len(others) != 1 {
				t.Errorf("failures of other peers: %+v", others)
			}
		})
	}
}

// TestFileStartsOverWhenRotated: a log moved away and replaced is read
// from the new file's start, and one truncated in place from its start.
func TestFileStartsOverWhenRotated(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/auth.log"
	// Lines as a real sshd and rsyslogd wrote them.
	line := "2026-12-06T08:12:00.083593+00:00 vm sshd[29450]: Failed password for root from 198.51.100.9 port 44326 ssh2\n"
	if err := os.WriteFile(path, []byte(line+line), 0o600); err != nil {
		t.Fatal(err)
	}
	tally := logins.NewTally(time.Time{})
	f := logins.OpenFile(path)
	read := func() int {
		t.Helper()
		if err := f.Read(tally, time.Now()); err != nil {
			t.Fatal(err)
		}
		return tally.Of(netip.MustParseAddr("198.51.100.9"))[0].Count
	}
	if n := read(); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := read(); n != 3 {
		t.Fatalf("after rotation: count %d, want 3", n)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil { // truncated in place
		t.Fatal(err)
	}
	read()
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := read(); n != 4 {
		t.Fatalf("after truncation: count %d, want 4", n)
	}
}

// TestFailedPasswordsFromARealJournal: the same, with sshd logging to a
// real systemd-journald (its files on the bed's own tmpfs), read through
// journalctl: counted once however often read, from the cursor on.
func TestFailedPasswordsFromARealJournal(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	auth := sockettest.AuthBedForTest(t, bed.Server, bed.ServerPublic4, sockettest.AuthBedOptions{Journal: true})
	for _, user := range []string{"root", "bob"} {
		if err := auth.FailPassword(bed.Public, netip.Addr{}, user); err != nil {
			t.Fatal(err)
		}
	}
	client, _ := bed.ClientAddrs()
	j := logins.OpenJournalIn(auth.JournalDir(), time.Hour)
	tally := logins.NewTally(time.Now().Add(-time.Hour))
	var got []logins.Failures
	ok := sockettest.WaitFor(10*time.Second, func() bool {
		if err := j.Read(tally, time.Now()); err != nil {
			t.Fatal(err)
		}
		got = tally.Of(client[0])
		return len(got) == 1 && got[0].Count >= 2
	})
	if !ok || got[0].Count != 2 || !slices.Equal(got[0].Users, []string{"bob", "root"}) {
		out, _ := exec.Command("journalctl", "--directory", auth.JournalDir(), "--no-pager").CombinedOutput()
		t.Fatalf("failures %+v from %s; the journal:\n%s", got, j, out)
	}
	if err := auth.FailPassword(bed.Public, netip.Addr{}, "carol"); err != nil {
		t.Fatal(err)
	}
	ok = sockettest.WaitFor(10*time.Second, func() bool {
		if err := j.Read(tally, time.Now()); err != nil {
			t.Fatal(err)
		}
		got = tally.Of(client[0])
		return got[0].Count >= 3
	})
	if !ok || got[0].Count != 3 {
		t.Errorf("after a third failure: %+v, want 3 (the earlier two once)", got)
	}
}
