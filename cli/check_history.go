package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/services/atomicfile"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
)

// commitMargin is how far before the recorder's last commit a check takes
// the record as complete: an event can wait in the kernel's ring buffer,
// and be committed, a little after it happened.
const commitMargin = 2 * time.Second

// judgePast judges what the flight recorder saw end since the last check:
// listeners and connections that came and went between two runs. It
// returns what it found (nil when it judged no record) and the record's
// stats (nil without a record). With no record it does nothing; on the
// first run it only notes where the next one starts.
func judgePast(errOut io.Writer, a *app.App, in *app.Inspection, dbPath string, policy verdict.Policy) (*report.PastCheck, *history.Stats, error) {
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil // no recorder runs here
	}
	db, err := history.Open(dbPath, false)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	stats, err := db.Stats()
	if err != nil {
		return nil, nil, err
	}
	pc, err := judgeRecord(errOut, a, in, db, dbPath, policy)
	return pc, &stats, err
}

func judgeRecord(errOut io.Writer, a *app.App, in *app.Inspection, db *history.DB, dbPath string, policy verdict.Policy) (*report.PastCheck, error) {
	statePath := dbPath + ".last-check"
	since, reported, err := readLastCheck(statePath)
	if err != nil {
		return nil, err
	}
	committed, err := db.LastCommit()
	if err != nil {
		return nil, err
	}
	if committed.IsZero() {
		return nil, nil // nothing recorded yet
	}
	next := committed.Add(-commitMargin)
	if since.IsZero() {
		fmt.Fprintf(errOut, "portwarden check: judging the flight recorder's record (%s) from now on\n", dbPath)
		return nil, writeLastCheck(statePath, next, nil)
	}
	// Failures the next check will see again, in the margin, are not
	// reported twice: neither this check's nor those an earlier one
	// reported that are still in it.
	var past []history.Lifetime
	var again []int64
	err = db.Query(history.Filter{Since: since, Keep: a.InNamespaces(in)}, func(l *history.Lifetime) error {
		switch {
		case l.Open || l.LastSeen.Before(since):
		case slices.Contains(reported, l.ID):
			if !l.LastSeen.Before(next) {
				again = append(again, l.ID)
			}
		default:
			past = append(past, *l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	gaps, err := db.Gaps(since, time.Now(), time.Now(), history.LockHolder(dbPath) != "")
	if err != nil {
		return nil, err
	}
	for _, g := range gaps {
		fmt.Fprintf(errOut, "portwarden check: the flight recorder's record since the last check has a gap: %s\n", g)
	}
	judged := a.JudgePast(in, past)
	pc := &report.PastCheck{Since: since, Past: past, Judged: judged, Failing: report.PastFailing(judged, policy)}
	for _, i := range pc.Failing {
		if !past[i].LastSeen.Before(next) {
			again = append(again, past[i].ID)
		}
	}
	return pc, writeLastCheck(statePath, next, again)
}

// readLastCheck reads where the last check stopped judging the record and
// the failures it reported past that point; zero when there was none.
func readLastCheck(path string) (time.Time, []int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil, nil
	}
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("check: %w", err)
	}
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return time.Time{}, nil, fmt.Errorf("check: %s is empty (remove it to judge the record from now on)", path)
	}
	since, err := time.Parse(time.RFC3339Nano, lines[0])
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("check: %s: %q is not a time (remove the file to judge the record from now on)", path, lines[0])
	}
	var ids []int64
	for _, s := range lines[1:] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("check: %s: %q is not a lifetime's ID", path, s)
		}
		ids = append(ids, id)
	}
	return since, ids, nil
}

func writeLastCheck(path string, since time.Time, reported []int64) error {
	var b strings.Builder
	b.WriteString(since.UTC().Format(time.RFC3339Nano) + "\n")
	for _, id := range reported {
		b.WriteString(strconv.FormatInt(id, 10) + "\n")
	}
	if err := atomicfile.Write(path, []byte(b.String())); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}
