package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/verdict"
)

// Mark documents listeners as expected: it adds the entries to the
// baseline and records the action.
func (a *App) Mark(entries ...baseline.Entry) error {
	for _, e := range entries {
		if err := e.Validate(); err != nil {
			return err
		}
	}
	err := ErrReadOnly
	if !a.opts.ReadOnly {
		err = baseline.Add(a.opts.BaselinePath, entries...)
	}
	if errors.Is(err, baseline.ErrPresent) {
		return err // nothing happened: nothing to record
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, a.record(audit.Record{Action: "mark", Detail: fmt.Sprintf("%s: %q, owner %s", e.Key(), e.Reason, e.Owner)}, err))
	}
	return errors.Join(errs...)
}

// Unmark removes the baseline entries with e's key: the listener shows as
// unexpected again.
func (a *App) Unmark(e baseline.Entry) error {
	_, err := a.UnmarkMatching(e.Key(), func(x baseline.Entry) bool { return x.Key() == e.Key() })
	return err
}

// UnmarkMatching removes every baseline entry match accepts, and says how
// many; none is an error. what names them for the record.
func (a *App) UnmarkMatching(what string, match func(baseline.Entry) bool) (int, error) {
	n, err := 0, ErrReadOnly
	if !a.opts.ReadOnly {
		n, err = baseline.Remove(a.opts.BaselinePath, match)
		if err == nil && n == 0 {
			err = fmt.Errorf("no entry for %s in %s", what, a.opts.BaselinePath)
		}
	}
	return n, a.record(audit.Record{Action: "unmark", Detail: what}, err)
}

// InitBaseline records every listener of the inspection as expected,
// "present at init", vouched for by owner. It refuses to replace an
// existing baseline, and returns how many entries it wrote.
func (a *App) InitBaseline(in *Inspection, owner string) (int, error) {
	if in.Baseline.Exists {
		return 0, fmt.Errorf("%s exists; edit it, or use baseline add/remove", a.opts.BaselinePath)
	}
	today := time.Now()
	seen := map[string]bool{}
	var entries []baseline.Entry
	for _, j := range in.Judged {
		if !j.Socket.Listening() {
			continue
		}
		e := baseline.EntryFor(j.Socket)
		e.Container = verdict.Where(in.Containers, j.Socket).Container // so a container's port is its own
		e.Reason, e.Owner, e.Added = "present at init", owner, today
		if !seen[e.Key()] {
			seen[e.Key()] = true
			entries = append(entries, e)
		}
	}
	if a.opts.ReadOnly {
		return 0, ErrReadOnly
	}
	if err := baseline.Add(a.opts.BaselinePath, entries...); err != nil {
		return 0, err
	}
	return len(entries), a.record(audit.Record{Action: "mark", Detail: fmt.Sprintf("baseline init: %d listeners, owner %s", len(entries), owner)}, nil)
}
