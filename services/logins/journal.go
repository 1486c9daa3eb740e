package logins

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// journalDirs hold the journal's files: persistent, then volatile.
var journalDirs = []string{"/var/log/journal", "/run/log/journal"}

// Journal reads the SSH server's entries from the systemd journal with
// journalctl, each Read from where the last ended (its cursor).
type Journal struct {
	dir    string // journal files read instead of the system's; "" for those
	since  time.Duration
	cursor string
}

// OpenJournal follows the system's journal; the first Read goes back
// since.
func OpenJournal(since time.Duration) *Journal { return &Journal{since: since} }

// OpenJournalIn follows the journal files in dir (journalctl
// --directory): another machine's, or a container's.
func OpenJournalIn(dir string, since time.Duration) *Journal { return &Journal{dir: dir, since: since} }

// String names the source.
func (j *Journal) String() string {
	if j.dir != "" {
		return "the journal in " + j.dir
	}
	return "the systemd journal"
}

// journalEntry is the part of journalctl's JSON an entry is read for.
type journalEntry struct {
	Cursor   string `json:"__CURSOR"`
	Realtime string `json:"__REALTIME_TIMESTAMP"` // µs since the epoch
	Ident    string `json:"SYSLOG_IDENTIFIER"`
	Message  any    `json:"MESSAGE"` // a string, or bytes as numbers
}

// Read adds the entries logged since the last Read to t.
func (j *Journal) Read(t *Tally, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := []string{"--no-pager", "-o", "json", "-t", "sshd", "-t", "sshd-session", "-t", "sshd-auth"}
	if j.dir != "" {
		args = append(args, "--directory", j.dir)
	}
	if j.cursor != "" {
		args = append(args, "--after-cursor", j.cursor)
	} else {
		args = append(args, "--since", "@"+strconv.FormatInt(now.Add(-j.since).Unix(), 10))
	}
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("read failed logins from the journal: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("read failed logins from the journal: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		j.cursor = e.Cursor
		msg, ok := e.Message.(string)
		if !ok {
			continue // binary: not a line sshd writes
		}
		us, err := strconv.ParseInt(e.Realtime, 10, 64)
		if err != nil {
			continue
		}
		if service := ServiceOf(e.Ident); service != "" {
			t.Add(service, msg, time.UnixMicro(us))
		}
	}
	if err := cmd.Wait(); err != nil {
		said := strings.TrimSpace(stderr.String())
		if len(said) > 200 {
			said = said[:200] + "…"
		}
		return fmt.Errorf("read failed logins from the journal: journalctl: %w: %s", err, said)
	}
	return nil
}

// journalPresent reports whether the journal has files to read.
func journalPresent() bool {
	if _, err := exec.LookPath("journalctl"); err != nil {
		return false
	}
	for _, d := range journalDirs {
		if entries, err := os.ReadDir(d); err == nil && len(entries) > 0 {
			return true
		}
	}
	return false
}
