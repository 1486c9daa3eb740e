package history

import (
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// Filter picks lifetimes. The zero Filter picks all of them.
type Filter struct {
	// Since and Until keep lifetimes that were alive at some moment
	// between them; zero leaves that end open.
	Since, Until time.Time
	Proto        sockets.Proto // 0: both
	Port         uint16        // the service port (see Lifetime.ServicePort); 0: any
	Peer         netip.Prefix  // the remote address; zero: any
	PID          int
	Process      string // the process's short name, exactly
	Kind         Kind   // 0: both
	Open         bool   // only lifetimes still open
	// Last, when positive, keeps only the newest Last lifetimes (by
	// first sighting), still given oldest first.
	Last int
	// Keep, when set, is asked last about each lifetime.
	Keep func(*Lifetime) bool
}

// Query calls fn for each lifetime f picks, oldest first, until fn returns
// an error (which Query returns).
func (d *DB) Query(f Filter, fn func(*Lifetime) error) error {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if !f.Until.IsZero() {
		add("l.first_seen <= ?", f.Until.UnixNano())
	}
	if !f.Since.IsZero() {
		add("(l.open OR l.first_seen + l.duration >= ?)", f.Since.UnixNano())
	}
	if f.Proto != 0 {
		add("l.proto = ?", f.Proto)
	}
	if f.Port != 0 {
		add("l.service_port = ?", f.Port)
	}
	if f.Peer.IsValid() {
		p := f.Peer.Masked()
		add("l.remote_addr BETWEEN ? AND ?", addrBytes(p.Addr()), addrBytes(lastAddr(p)))
	}
	if f.Open {
		add("l.open")
	}
	if f.Kind != 0 {
		add("l.kind = ?", f.Kind)
	}
	if f.PID != 0 {
		add("o.pid = ?", f.PID)
	}
	if f.Process != "" {
		add("o.process = ?", f.Process)
	}
	q := `SELECT l.id, l.kind, l.proto, l.direction, l.local_addr, l.local_port, l.remote_addr, l.remote_port,
		l.service_port, l.first_seen, l.duration, l.open, l.source, l.rx_bytes, l.tx_bytes,
		o.pid, o.process, o.exe, o.user, o.unit, o.container, o.netns, o.netns_name
		FROM lifetimes l JOIN owners o ON o.id = l.owner`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Last > 0 {
		// Newest first with the limit, then given back in order.
		q += " ORDER BY l.first_seen DESC, l.id DESC LIMIT ?"
		args = append(args, f.Last)
		var newest []Lifetime
		inner := f
		inner.Last = 0
		if err := d.scan(q, args, inner, func(l *Lifetime) error { newest = append(newest, *l); return nil }); err != nil {
			return err
		}
		for i := len(newest) - 1; i >= 0; i-- {
			if err := fn(&newest[i]); err != nil {
				return err
			}
		}
		return nil
	}
	q += " ORDER BY l.first_seen, l.id"
	return d.scan(q, args, f, fn)
}

// scan runs a lifetime query and calls fn with each row f.Keep keeps.
func (d *DB) scan(q string, args []any, f Filter, fn func(*Lifetime) error) error {
	rows, err := d.sql.Query(q, args...)
	if err != nil {
		return fmt.Errorf("history: querying %s: %w", d.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l Lifetime
		var local, remote []byte
		var lport, rport uint16
		var first, duration, netns int64
		var rx, tx sql.NullInt64
		if err := rows.Scan(&l.ID, &l.Kind, &l.Proto, &l.Direction, &local, &lport, &remote, &rport,
			&l.ServicePort, &first, &duration, &l.Open, &l.Source, &rx, &tx,
			&l.Owner.PID, &l.Owner.Process, &l.Owner.Exe, &l.Owner.User, &l.Owner.Unit, &l.Owner.Container, &netns, &l.Owner.NetNSName); err != nil {
			return fmt.Errorf("history: reading %s: %w", d.path, err)
		}
		l.Local = netip.AddrPortFrom(addrFrom(local), lport)
		l.Remote = netip.AddrPortFrom(addrFrom(remote), rport)
		l.FirstSeen = time.Unix(0, first)
		l.LastSeen = time.Unix(0, first+duration)
		l.Owner.NetNS = uint64(netns)
		if rx.Valid && tx.Valid {
			l.Bytes, l.Counted = sockets.Traffic{Rx: uint64(rx.Int64), Tx: uint64(tx.Int64)}, true
		}
		if f.Keep != nil && !f.Keep(&l) {
			continue
		}
		if err := fn(&l); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	return nil
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// OpenLifetimes returns the lifetimes the record holds as open, for a
// recorder starting again to take up or close.
func (d *DB) OpenLifetimes() ([]*Lifetime, error) {
	var out []*Lifetime
	err := d.Query(Filter{Open: true}, func(l *Lifetime) error {
		c := *l
		out = append(out, &c)
		return nil
	})
	return out, err
}

// Source is how the last recorder ran; 0 when none has.
func (d *DB) Source() (Source, error) {
	var v int64
	err := d.sql.QueryRow(`SELECT value FROM meta WHERE key = 'source'`).Scan(&v)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	return Source(v), nil
}

// Stats describes the record.
func (d *DB) Stats() (Stats, error) {
	var s Stats
	var oldest, newest sql.NullInt64
	err := d.sql.QueryRow(`SELECT count(*), min(first_seen), max(first_seen + duration) FROM lifetimes`).Scan(&s.Lifetimes, &oldest, &newest)
	if err != nil {
		return s, fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	if oldest.Valid {
		s.Oldest, s.Newest = time.Unix(0, oldest.Int64), time.Unix(0, newest.Int64)
	}
	rows, err := d.sql.Query(`SELECT key, value FROM meta`)
	if err != nil {
		return s, fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var v int64
		if err := rows.Scan(&key, &v); err != nil {
			return s, fmt.Errorf("history: reading %s: %w", d.path, err)
		}
		switch key {
		case "events":
			s.Events = uint64(v)
		case "lost":
			s.Lost = uint64(v)
		case "dropped":
			s.Dropped = uint64(v)
		case "unnamed_udp":
			s.UnnamedUDP = uint64(v)
		case "unnamed_resets":
			s.UnnamedResets = uint64(v)
		case "scan_source":
			s.Scans = Source(v)
		case "source":
			s.Source = Source(v)
		case "committed":
			s.LastCommit = time.Unix(0, v)
		}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	s.Bytes = d.Bytes()
	s.Gaps, err = d.Gaps(time.Time{}, time.Time{}, time.Now(), LockHolder(d.path) != "")
	return s, err
}

// Bytes is the size of the database file with its write-ahead log.
func (d *DB) Bytes() int64 {
	var n int64
	for _, p := range []string{d.path, d.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
