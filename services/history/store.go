package history

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// applicationID marks a SQLite file as portwarden's record ("PWDH"), in the
// header's application_id field.
const applicationID = 0x50574448

// schemaVersion is the version migrations bring a database to; it is kept
// in the header's user_version field.
const schemaVersion = 5

// migrations[i] takes a database from version i to i+1.
var migrations = []string{
	`CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
	CREATE TABLE owners (
		id INTEGER PRIMARY KEY,
		pid INTEGER NOT NULL, process TEXT NOT NULL, exe TEXT NOT NULL, user TEXT NOT NULL,
		unit TEXT NOT NULL, container TEXT NOT NULL, netns INTEGER NOT NULL,
		UNIQUE (pid, process, exe, user, unit, container, netns));
	CREATE TABLE lifetimes (
		id INTEGER PRIMARY KEY,
		-- kind, protocol, direction and source in one integer: a few
		-- bytes a row less than four columns (the record is kept under
		-- 100 bytes a lifetime); the virtual columns read them back.
		class INTEGER NOT NULL,
		proto INTEGER AS (class & 255) VIRTUAL,
		kind INTEGER AS ((class >> 8) & 3) VIRTUAL,
		direction INTEGER AS ((class >> 10) & 3) VIRTUAL,
		source INTEGER AS ((class >> 12) & 3) VIRTUAL,
		local_addr BLOB NOT NULL, local_port INTEGER NOT NULL,
		remote_addr BLOB NOT NULL, remote_port INTEGER NOT NULL,
		service_port INTEGER NOT NULL,
		owner INTEGER NOT NULL REFERENCES owners(id),
		first_seen INTEGER NOT NULL, -- Unix nanoseconds
		duration INTEGER NOT NULL,   -- last seen minus first seen, nanoseconds
		open INTEGER NOT NULL);
	CREATE INDEX lifetimes_first_seen ON lifetimes (first_seen);
	CREATE INDEX lifetimes_service_port ON lifetimes (service_port);
	CREATE INDEX lifetimes_remote_addr ON lifetimes (remote_addr);
	CREATE INDEX lifetimes_open ON lifetimes (open) WHERE open;`,
	// Each run of a recorder: when it started, and when it stopped (the
	// last commit of one killed, found by the next) and whether cleanly.
	`CREATE TABLE runs (id INTEGER PRIMARY KEY, started INTEGER NOT NULL, stopped INTEGER, clean INTEGER NOT NULL DEFAULT 0);`,
	// The namespace's name (ip netns, Docker) as the recorder saw it:
	// inodes are reused, and a namespace outlives no record.
	`ALTER TABLE owners ADD COLUMN netns_name TEXT NOT NULL DEFAULT '';`,
	// Closed-port probes added up per peer, namespace and kind: a scan of
	// 65,535 ports is one row.
	`CREATE TABLE scans (
		id INTEGER PRIMARY KEY,
		peer BLOB NOT NULL, netns INTEGER NOT NULL, netns_name TEXT NOT NULL,
		kind INTEGER NOT NULL, ports INTEGER NOT NULL, probes INTEGER NOT NULL,
		port_list TEXT NOT NULL,
		first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL); -- Unix nanoseconds
	CREATE INDEX scans_last_seen ON scans (last_seen);
	CREATE INDEX scans_peer ON scans (peer);`,
	// The payload a TCP connection carried, as the kernel counted it when
	// it closed; NULL where not counted (UDP, polled, older records).
	`ALTER TABLE lifetimes ADD COLUMN rx_bytes INTEGER;
	ALTER TABLE lifetimes ADD COLUMN tx_bytes INTEGER;`,
}

// ErrForeign is wrapped by Open for a file that is not portwarden's record.
var ErrForeign = errors.New("not a portwarden history database")

// DB is the record. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB
	path string
}

// Open opens the record at path. Writable opens create it (and its
// directory) when missing and bring its schema up to date; read-only opens
// change nothing (one on a read-only filesystem reads the file as it is).
// What stands in the way — a directory, a pseudo-filesystem, a read-only
// mount, a permission — is said as such, before SQLite is asked. A file that is not SQLite, is another program's
// database, or is newer than this portwarden is refused before anything is
// written to it.
func Open(path string, writable bool) (*DB, error) {
	if err := whyNot(path, writable); err != nil {
		return nil, err
	}
	sidecars := existingSidecars(path)
	exists, err := checkHeader(path, writable)
	if err != nil {
		return nil, err
	}
	d, err := openChecked(path, writable, exists)
	if err != nil {
		removeNewSidecars(path, sidecars)
	}
	return d, err
}

// openChecked opens a file whose header was found good.
func openChecked(path string, writable, exists bool) (*DB, error) {
	if writable && exists {
		// Read it whole before writing anything: a corrupt page found
		// later, in a write, might be written over.
		ro, err := openSQL(path, false)
		if err != nil {
			return nil, err
		}
		err = ro.check()
		ro.Close()
		if err != nil {
			return nil, err
		}
	} else if writable {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	d, err := openSQL(path, writable)
	if err != nil {
		return nil, err
	}
	db := d.sql
	if writable {
		db.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
		if err := d.migrate(); err != nil {
			db.Close()
			return nil, err
		}
	} else if err := d.checkVersion(); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// sidecarSuffixes name the files SQLite keeps beside a database.
var sidecarSuffixes = [...]string{"-wal", "-shm", "-journal"}

// existingSidecars reports which of the database's side files exist.
func existingSidecars(path string) [len(sidecarSuffixes)]bool {
	var ok [len(sidecarSuffixes)]bool
	for i, s := range sidecarSuffixes {
		_, err := os.Lstat(path + s)
		ok[i] = err == nil
	}
	return ok
}

// removeNewSidecars removes the side files a refused open made, so a
// refused file is left as it was found.
func removeNewSidecars(path string, before [len(sidecarSuffixes)]bool) {
	for i, s := range sidecarSuffixes {
		if !before[i] {
			os.Remove(path + s)
		}
	}
}

// openSQL opens the file through the driver, without a check.
func openSQL(path string, writable bool) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	if writable {
		q.Add("_pragma", "auto_vacuum(INCREMENTAL)") // takes on a new file only
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
	} else {
		q.Set("mode", "ro")
		if readOnlyFS(path) {
			// Nothing can write it there, and SQLite could not make the
			// index of its log beside it: read it as it is.
			q.Set("immutable", "1")
		}
	}
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("history: opening %s: %w", path, err)
	}
	return &DB{sql: db, path: path}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

// Path is the database file.
func (d *DB) Path() string { return d.path }

// checkHeader reads the file's first 100 bytes, SQLite's header: the file
// must be missing (writable opens create it), empty, or SQLite with
// portwarden's application ID. It reports whether the file holds anything.
func checkHeader(path string, writable bool) (exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && writable {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	var h [100]byte
	n, err := io.ReadFull(f, h[:])
	if n == 0 && writable {
		return false, nil
	}
	if err != nil || !bytes.Equal(h[:16], []byte("SQLite format 3\x00")) {
		return true, fmt.Errorf("history: %s: %w: it is not a SQLite database (left untouched)", path, ErrForeign)
	}
	app := binary.BigEndian.Uint32(h[68:72])
	version := binary.BigEndian.Uint32(h[60:64])
	switch {
	case app != applicationID:
		return true, fmt.Errorf("history: %s: %w: its application ID is %#x (left untouched)", path, ErrForeign, app)
	case version > schemaVersion:
		return true, fmt.Errorf("history: %s: schema version %d is newer than this portwarden's %d: upgrade portwarden (file left untouched)", path, version, schemaVersion)
	}
	return true, nil
}

// check reads every page (SQLite's quick_check): a corrupt database is an
// error, and stays as it was.
func (d *DB) check() error {
	var verdict string
	if err := d.sql.QueryRow("PRAGMA quick_check(1)").Scan(&verdict); err != nil {
		return fmt.Errorf("history: %s is damaged (left untouched): %w", d.path, err)
	}
	if verdict != "ok" {
		return fmt.Errorf("history: %s is damaged (left untouched): %s", d.path, verdict)
	}
	return nil
}

// migrate brings the schema to schemaVersion, each step in a transaction.
// A new file is checked to be empty of others' tables first.
func (d *DB) migrate() error {
	ctx := context.Background()
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("history: opening %s: %w", d.path, err)
	}
	defer conn.Close()
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	if version == 0 {
		var tables int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return fmt.Errorf("history: reading %s: %w", d.path, err)
		}
		if tables > 0 {
			return fmt.Errorf("history: %s: %w: it holds %d other tables (left untouched)", d.path, ErrForeign, tables)
		}
	}
	if version == schemaVersion {
		return nil
	}
	for ; version < schemaVersion; version++ {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("history: migrating %s: %w", d.path, err)
		}
		stmt := migrations[version] + fmt.Sprintf("; PRAGMA application_id = %d; PRAGMA user_version = %d;", applicationID, version+1)
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			tx.Rollback()
			return fmt.Errorf("history: migrating %s to schema %d: %w", d.path, version+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("history: migrating %s to schema %d: %w", d.path, version+1, err)
		}
	}
	// Bring the header, with its application ID, from the log into the
	// file, where the next Open reads it.
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("history: checkpointing %s: %w", d.path, err)
	}
	return nil
}

// checkVersion refuses a read-only open of a database older than this
// portwarden reads (the recorder migrates it when it next starts).
func (d *DB) checkVersion() error {
	var version int
	if err := d.sql.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	if version != schemaVersion {
		return fmt.Errorf("history: %s: schema version %d, this portwarden reads %d: start `portwarden record` once to migrate it", d.path, version, schemaVersion)
	}
	return nil
}
