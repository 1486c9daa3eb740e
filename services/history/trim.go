package history

import (
	"fmt"
	"time"
)

// Retention bounds the record. Zero fields bound nothing.
type Retention struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// DefaultRetention keeps 14 days and at most 512 MiB.
var DefaultRetention = Retention{MaxAge: 14 * 24 * time.Hour, MaxBytes: 512 << 20}

// Trim removes closed lifetimes that ended before now minus MaxAge, then
// the oldest closed ones until the data fits in MaxBytes, and gives the
// freed pages back to the file system. Open lifetimes are kept. It returns
// how many lifetimes were removed.
func (d *DB) Trim(r Retention, now time.Time) (int64, error) {
	var removed int64
	if r.MaxAge > 0 {
		cutoff := now.Add(-r.MaxAge).UnixNano()
		res, err := d.sql.Exec(`DELETE FROM lifetimes WHERE first_seen < ? AND NOT open AND first_seen + duration < ?`, cutoff, cutoff)
		if err != nil {
			return 0, fmt.Errorf("history: trimming %s by age: %w", d.path, err)
		}
		n, _ := res.RowsAffected()
		removed += n
		if _, err := d.sql.Exec(`DELETE FROM scans WHERE last_seen < ?`, cutoff); err != nil {
			return removed, fmt.Errorf("history: trimming %s's scans by age: %w", d.path, err)
		}
	}
	if r.MaxBytes > 0 {
		for range 20 {
			used, rows, err := d.usage()
			if err != nil {
				return removed, err
			}
			if used <= r.MaxBytes || rows == 0 {
				break
			}
			// Down to 90% of the bound, so a full record is not trimmed
			// on every write.
			excess := used - r.MaxBytes*9/10
			n := max(rows*excess/used, 1)
			res, err := d.sql.Exec(`DELETE FROM lifetimes WHERE id IN
				(SELECT id FROM lifetimes WHERE NOT open ORDER BY first_seen LIMIT ?)`, n)
			if err != nil {
				return removed, fmt.Errorf("history: trimming %s by size: %w", d.path, err)
			}
			k, _ := res.RowsAffected()
			removed += k
			if k == 0 {
				break
			}
		}
	}
	if removed == 0 {
		return 0, nil
	}
	if _, err := d.sql.Exec(`DELETE FROM owners WHERE id NOT IN (SELECT DISTINCT owner FROM lifetimes)`); err != nil {
		return removed, fmt.Errorf("history: trimming %s: %w", d.path, err)
	}
	if _, err := d.sql.Exec(`PRAGMA incremental_vacuum`); err != nil {
		return removed, fmt.Errorf("history: giving back %s's free pages: %w", d.path, err)
	}
	return removed, nil
}

// usage is the bytes the data takes (pages in use) and how many lifetimes
// there are.
func (d *DB) usage() (used, rows int64, err error) {
	var pages, free, size int64
	for q, v := range map[string]*int64{"PRAGMA page_count": &pages, "PRAGMA freelist_count": &free, "PRAGMA page_size": &size, "SELECT count(*) FROM lifetimes": &rows} {
		if err := d.sql.QueryRow(q).Scan(v); err != nil {
			return 0, 0, fmt.Errorf("history: reading %s's size: %w", d.path, err)
		}
	}
	return (pages - free) * size, rows, nil
}
