package history

import (
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// sqliteFull is SQLite's SQLITE_FULL: the disk (or a quota) is full.
const sqliteFull = 13

// IsFull reports whether err is SQLite saying the disk is full.
func IsFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqliteFull
	}
	return err != nil && strings.Contains(err.Error(), "database or disk is full")
}

// Checkpoint folds the write-ahead log into the file and truncates it,
// giving its room back to the file system.
func (d *DB) Checkpoint() error {
	if _, err := d.sql.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("history: folding in %s's log: %w", d.path, err)
	}
	return nil
}

// MakeRoom frees room on a full disk for the next write: it folds the
// write-ahead log into the file and truncates it, removes the oldest
// tenth of the ended lifetimes (at least one), gives the freed pages back
// to the file system and truncates the log again. It returns how many
// lifetimes it removed: what the record lost to keep the newest.
func (d *DB) MakeRoom() (int64, error) {
	if _, err := d.sql.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil && !IsFull(err) {
		return 0, fmt.Errorf("history: making room in %s: %w", d.path, err)
	}
	var ended int64
	if err := d.sql.QueryRow(`SELECT count(*) FROM lifetimes WHERE NOT open`).Scan(&ended); err != nil {
		return 0, fmt.Errorf("history: making room in %s: %w", d.path, err)
	}
	if ended == 0 {
		return 0, nil
	}
	res, err := d.sql.Exec(`DELETE FROM lifetimes WHERE id IN
		(SELECT id FROM lifetimes WHERE NOT open ORDER BY first_seen LIMIT ?)`, max(ended/10, 1))
	if err != nil {
		return 0, fmt.Errorf("history: making room in %s: %w", d.path, err)
	}
	removed, _ := res.RowsAffected()
	for _, q := range []string{`DELETE FROM owners WHERE id NOT IN (SELECT DISTINCT owner FROM lifetimes)`,
		`PRAGMA incremental_vacuum`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := d.sql.Exec(q); err != nil {
			return removed, fmt.Errorf("history: making room in %s: %w", d.path, err)
		}
	}
	return removed, nil
}
