package logins

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Source is where failed logins are read from, incrementally.
type Source interface {
	// Read adds what was logged since the last Read.
	Read(t *Tally, now time.Time) error
	// String names the source for the admin: a path or "the systemd journal".
	String() string
}

// String names the file followed.
func (f *File) String() string { return f.path }

// ErrNoSource says no log of failed logins could be found.
var ErrNoSource = errors.New("no log of failed logins found")

// Find picks the source of failed logins: path when given, else the first
// of DefaultFiles that exists, else the journal when it has files. The
// journal's first read goes back since.
func Find(path string, since time.Duration) (Source, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("failed logins: %w", err)
		}
		return OpenFile(path), nil
	}
	var tried []string
	for _, p := range DefaultFiles {
		_, err := os.Stat(p)
		if err == nil {
			return OpenFile(p), nil
		}
		tried = append(tried, err.Error())
	}
	if journalPresent() {
		return OpenJournal(since), nil
	}
	tried = append(tried, "no systemd journal files in "+strings.Join(journalDirs, " or "))
	return nil, fmt.Errorf("%w: %s", ErrNoSource, strings.Join(tried, "; "))
}
