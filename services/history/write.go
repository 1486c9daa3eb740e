package history

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Counters are what a recorder adds to the record's totals with a write.
type Counters struct {
	Events, Lost uint64 // since the last write
	// Dropped counts the lifetimes the recorder gave up since the last
	// write: removed, or never written, to go on recording on a full disk.
	Dropped uint64
	// UnnamedUDP and UnnamedResets count, where probes cannot be traced,
	// UDP datagrams to closed ports and TCP resets sent, since the last
	// write: probes whose sources are not known.
	UnnamedUDP, UnnamedResets uint64
	Source                    Source // how the recorder runs; 0 leaves it as it was
	Scans                     Source // how it knows scans (Stats.Scans); 0 leaves it as it was
	// Committed is when the recorder writes: a lifetime a recorder
	// killed left open ended, at the latest, at its last commit.
	Committed time.Time
}

// Write stores lifetimes in one transaction, with the counters: a lifetime
// without an ID is inserted (and given one if it is open: an ended one is
// never updated), one with an ID has its last sighting, openness and owner
// updated. Either all of it is committed or
// none.
func (d *DB) Write(lifetimes []*Lifetime, c Counters) error {
	ctx := context.Background()
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: writing %s: %w", d.path, err)
	}
	ids := make([]int64, len(lifetimes))
	if err := writeTx(ctx, tx, lifetimes, ids, c); err != nil {
		tx.Rollback()
		return fmt.Errorf("history: writing %s: %w", d.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: committing to %s: %w", d.path, err)
	}
	for i, l := range lifetimes {
		l.ID = ids[i]
	}
	return nil
}

func writeTx(ctx context.Context, tx *sql.Tx, lifetimes []*Lifetime, ids []int64, c Counters) error {
	findOwner, err := tx.PrepareContext(ctx, `SELECT id FROM owners WHERE pid = ? AND process = ? AND exe = ? AND user = ? AND unit = ? AND container = ? AND netns = ?`)
	if err != nil {
		return err
	}
	defer findOwner.Close()
	addOwner, err := tx.PrepareContext(ctx, `INSERT INTO owners (pid, process, exe, user, unit, container, netns, netns_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer addOwner.Close()
	insert, err := tx.PrepareContext(ctx, insertRows(1))
	if err != nil {
		return err
	}
	defer insert.Close()
	ended := newBulkInsert(ctx, tx)
	defer ended.close()
	update, err := tx.PrepareContext(ctx, `UPDATE lifetimes SET duration = ?, open = ?, owner = ?, rx_bytes = ?, tx_bytes = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer update.Close()

	owners := map[Owner]int64{}
	ownerID := func(o Owner) (int64, error) {
		if id, ok := owners[o]; ok {
			return id, nil
		}
		args := []any{o.PID, o.Process, o.Exe, o.User, o.Unit, o.Container, int64(o.NetNS)}
		var id int64
		err := findOwner.QueryRowContext(ctx, args...).Scan(&id)
		if err == sql.ErrNoRows {
			var res sql.Result
			if res, err = addOwner.ExecContext(ctx, append(args, o.NetNSName)...); err == nil {
				id, err = res.LastInsertId()
			}
		}
		if err != nil {
			return 0, fmt.Errorf("owner: %w", err)
		}
		owners[o] = id
		return id, nil
	}
	for i, l := range lifetimes {
		owner, err := ownerID(l.Owner)
		if err != nil {
			return err
		}
		duration := l.LastSeen.Sub(l.FirstSeen).Nanoseconds()
		var rx, tx any // NULL: not counted
		if l.Counted {
			rx, tx = int64(l.Bytes.Rx), int64(l.Bytes.Tx)
		}
		if l.ID != 0 {
			if _, err := update.ExecContext(ctx, duration, l.Open, owner, rx, tx, l.ID); err != nil {
				return fmt.Errorf("lifetime %d: %w", l.ID, err)
			}
			ids[i] = l.ID
			continue
		}
		class := int(l.Proto) | int(l.Kind&3)<<8 | int(l.Direction&3)<<10 | int(l.Source&3)<<12
		row := []any{class, addrBytes(l.Local.Addr()), l.Local.Port(), addrBytes(l.Remote.Addr()), l.Remote.Port(),
			l.ServicePort, owner, l.FirstSeen.UnixNano(), duration, l.Open, rx, tx}
		if !l.Open {
			// Ended already: never updated, so its ID is not needed, and
			// many go in one statement.
			if err := ended.add(row); err != nil {
				return fmt.Errorf("lifetime: %w", err)
			}
			continue
		}
		res, err := insert.ExecContext(ctx, row...)
		if err != nil {
			return fmt.Errorf("lifetime: %w", err)
		}
		if ids[i], err = res.LastInsertId(); err != nil {
			return err
		}
	}
	if err := ended.flush(); err != nil {
		return fmt.Errorf("lifetime: %w", err)
	}
	return addCounters(ctx, tx, c)
}

// insertRows is an INSERT of n lifetimes.
func insertRows(n int) string {
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO lifetimes (class, local_addr, local_port, remote_addr, remote_port, service_port, owner, first_seen, duration, open, rx_bytes, tx_bytes) VALUES ` +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// bulkRows is how many lifetimes one bulk INSERT carries: a statement per
// row costs the SQLite driver most of a write.
const bulkRows = 100

// bulkInsert inserts rows bulkRows at a time.
type bulkInsert struct {
	ctx  context.Context
	tx   *sql.Tx
	full *sql.Stmt
	args []any
	n    int
}

func newBulkInsert(ctx context.Context, tx *sql.Tx) *bulkInsert {
	return &bulkInsert{ctx: ctx, tx: tx}
}

func (b *bulkInsert) add(row []any) error {
	b.args = append(b.args, row...)
	b.n++
	if b.n < bulkRows {
		return nil
	}
	if b.full == nil {
		var err error
		if b.full, err = b.tx.PrepareContext(b.ctx, insertRows(bulkRows)); err != nil {
			return err
		}
	}
	_, err := b.full.ExecContext(b.ctx, b.args...)
	b.args, b.n = b.args[:0], 0
	return err
}

// flush inserts the rows not yet inserted.
func (b *bulkInsert) flush() error {
	if b.n == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(b.ctx, insertRows(b.n), b.args...)
	b.args, b.n = b.args[:0], 0
	return err
}

func (b *bulkInsert) close() {
	if b.full != nil {
		b.full.Close()
	}
}

func addCounters(ctx context.Context, tx *sql.Tx, c Counters) error {
	add := `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value`
	for key, n := range map[string]uint64{"events": c.Events, "lost": c.Lost, "dropped": c.Dropped,
		"unnamed_udp": c.UnnamedUDP, "unnamed_resets": c.UnnamedResets} {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, add, key, int64(n)); err != nil {
			return fmt.Errorf("counter %s: %w", key, err)
		}
	}
	set := `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
	if c.Source != 0 {
		if _, err := tx.ExecContext(ctx, set, "source", c.Source); err != nil {
			return fmt.Errorf("source: %w", err)
		}
	}
	if c.Scans != 0 {
		if _, err := tx.ExecContext(ctx, set, "scan_source", c.Scans); err != nil {
			return fmt.Errorf("scan source: %w", err)
		}
	}
	if !c.Committed.IsZero() {
		if _, err := tx.ExecContext(ctx, set, "committed", c.Committed.UnixNano()); err != nil {
			return fmt.Errorf("commit time: %w", err)
		}
	}
	return nil
}

// addrBytes is an address as stored: 4 bytes for IPv4 (also an IPv4-mapped
// IPv6 address), 16 for IPv6, none for the zero address. Same-length
// blobs sort as addresses do, so a prefix is a range.
func addrBytes(a netip.Addr) []byte {
	if !a.IsValid() {
		return []byte{}
	}
	return a.Unmap().AsSlice()
}

// addrFrom reads an address stored by addrBytes.
func addrFrom(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

// LastCommit is when a recorder last wrote; zero if never.
func (d *DB) LastCommit() (time.Time, error) {
	var ns int64
	err := d.sql.QueryRow(`SELECT value FROM meta WHERE key = 'committed'`).Scan(&ns)
	if err == sql.ErrNoRows {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	return time.Unix(0, ns), nil
}
