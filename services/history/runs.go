package history

import (
	"database/sql"
	"fmt"
	"time"
)

// Gap is a time the record was blind: no recorder ran between two runs,
// or since the last one.
type Gap struct {
	From, To time.Time
	// Unclean is set when the run before it did not stop cleanly (it was
	// killed, or the machine went down): From is its last commit.
	Unclean bool
	// Ongoing is set for the gap since the last run, when no recorder
	// runs now: To is the time it was read.
	Ongoing bool
}

// Duration is how long the gap lasted.
func (g Gap) Duration() time.Duration { return g.To.Sub(g.From) }

// String says when the record was blind, and why: "not recording from …
// to … (1.75s; the recorder was killed or the machine went down: from its
// last commit)".
func (g Gap) String() string {
	why := "the recorder was stopped"
	if g.Unclean {
		why = "the recorder was killed or the machine went down: from its last commit"
	}
	to := g.To.Local().Format("2006-01-02 15:04:05.000")
	if g.Ongoing {
		to = "now: no recorder runs"
	}
	return fmt.Sprintf("not recording from %s to %s (%s; %s)", g.From.Local().Format("2006-01-02 15:04:05.000"), to,
		g.Duration().Round(time.Millisecond), why)
}

// StartRun records that a recorder starts now. A run before it that never
// said it stopped was killed: it is closed at its last commit, uncleanly.
// It returns the run's ID, for StopRun.
func (d *DB) StartRun(now time.Time) (int64, error) {
	last, err := d.LastCommit()
	if err != nil {
		return 0, err
	}
	if _, err := d.sql.Exec(`UPDATE runs SET stopped = max(started, ?), clean = 0 WHERE stopped IS NULL`, last.UnixNano()); err != nil {
		return 0, fmt.Errorf("history: closing the last run in %s: %w", d.path, err)
	}
	res, err := d.sql.Exec(`INSERT INTO runs (started) VALUES (?)`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("history: starting a run in %s: %w", d.path, err)
	}
	return res.LastInsertId()
}

// StopRun records that run id stopped cleanly now.
func (d *DB) StopRun(id int64, now time.Time) error {
	if _, err := d.sql.Exec(`UPDATE runs SET stopped = ?, clean = 1 WHERE id = ?`, now.UnixNano(), id); err != nil {
		return fmt.Errorf("history: stopping the run in %s: %w", d.path, err)
	}
	return nil
}

// Gaps lists the times no recorder ran, oldest first, that overlap
// [since, until] (zero: unbounded). running says whether a recorder runs
// now: when none does, the time since the last run (its last commit, if
// it never said it stopped) up to now is a gap too.
func (d *DB) Gaps(since, until, now time.Time, running bool) ([]Gap, error) {
	last, err := d.LastCommit() // first: a writer has one connection, which rows holds
	if err != nil {
		return nil, err
	}
	rows, err := d.sql.Query(`SELECT started, stopped, clean FROM runs ORDER BY started`)
	if err != nil {
		return nil, fmt.Errorf("history: reading %s's runs: %w", d.path, err)
	}
	defer rows.Close()
	var gaps []Gap
	var prevStop time.Time
	prevClean, have := false, false
	for rows.Next() {
		var started int64
		var stopped sql.NullInt64
		var clean bool
		if err := rows.Scan(&started, &stopped, &clean); err != nil {
			return nil, fmt.Errorf("history: reading %s's runs: %w", d.path, err)
		}
		if have && time.Unix(0, started).After(prevStop) {
			gaps = append(gaps, Gap{From: prevStop, To: time.Unix(0, started), Unclean: !prevClean})
		}
		prevStop, prevClean, have = last, false, true // a run not stopped: at its last commit, at best
		if stopped.Valid {
			prevStop, prevClean = time.Unix(0, stopped.Int64), clean
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: reading %s's runs: %w", d.path, err)
	}
	if have && !running && now.After(prevStop) {
		gaps = append(gaps, Gap{From: prevStop, To: now, Unclean: !prevClean, Ongoing: true})
	}
	var out []Gap
	for _, g := range gaps {
		if (until.IsZero() || g.From.Before(until)) && (since.IsZero() || g.To.After(since)) {
			out = append(out, g)
		}
	}
	return out, nil
}

// HasNamespaceName reports whether the record holds anything of a
// namespace the recorder saw by that name.
func (d *DB) HasNamespaceName(name string) (bool, error) {
	var n int
	if err := d.sql.QueryRow(`SELECT count(*) FROM owners WHERE netns_name = ?`, name).Scan(&n); err != nil {
		return false, fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	return n > 0, nil
}
