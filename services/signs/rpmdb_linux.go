//go:build linux

package signs

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // rpm's database is SQLite since rpm 4.16 (Fedora 33, RHEL 9)
)

// rpmDB indexes rpm's database, read directly from its SQLite file
// (/var/lib/rpm/rpmdb.sqlite): the package owning each file and the digest
// rpm recorded for it. The Berkeley DB and ndb formats of older and other
// rpm systems are not read, and say so.
type rpmDB struct {
	path  string
	stamp time.Time
	files map[string]rpmFile
}

type rpmFile struct {
	pkg    string
	digest string // hex
	algo   string // "md5", "sha1", "sha256", "sha512"; "" when unknown
}

// rpm's header tags and types (rpmtag.h).
const (
	rpmTagName           = 1000
	rpmTagFileDigests    = 1035
	rpmTagDirIndexes     = 1116
	rpmTagBasenames      = 1117
	rpmTagDirnames       = 1118
	rpmTagFileDigestAlgo = 5011

	rpmTypeInt32       = 4
	rpmTypeString      = 6
	rpmTypeStringArray = 8
	rpmTypeI18NString  = 9
)

// rpmDigestAlgos names rpm's digest algorithms (PGPHASHALGO_*).
var rpmDigestAlgos = map[uint32]string{1: "md5", 2: "sha1", 8: "sha256", 10: "sha512"}

// errRPMFormat says an rpm database exists that is not read.
func rpmOther(root string) error {
	for _, name := range []string{"Packages", "Packages.db"} {
		if _, err := os.Stat(filepath.Join(root, "var/lib/rpm", name)); err == nil {
			return fmt.Errorf("rpm's database (/var/lib/rpm/%s) is in a format portwarden does not read (Berkeley DB or ndb; SQLite is read): whether binaries are packaged is not known", name)
		}
	}
	return nil
}

// load reads the database again when it changed.
func (r *rpmDB) load() error {
	fi, err := os.Stat(r.path)
	if err != nil {
		return err
	}
	if r.files != nil && fi.ModTime().Equal(r.stamp) {
		return nil
	}
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: r.path, RawQuery: "mode=ro&_pragma=busy_timeout(2000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("rpm's database: %w", err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT blob FROM Packages`)
	if err != nil {
		return fmt.Errorf("rpm's database %s: %w", r.path, err)
	}
	defer rows.Close()
	files := map[string]rpmFile{}
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("rpm's database %s: %w", r.path, err)
		}
		h, err := parseRPMHeader(blob)
		if err != nil {
			return fmt.Errorf("rpm's database %s: %w", r.path, err)
		}
		h.files(files)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rpm's database %s: %w", r.path, err)
	}
	r.files, r.stamp = files, fi.ModTime()
	return nil
}

// rpmHeader is a package's header: tag → its raw entry.
type rpmHeader struct {
	entries map[uint32]rpmEntry
	data    []byte
}

type rpmEntry struct{ typ, offset, count uint32 }

// parseRPMHeader reads a header as rpm stores it in its database: the
// index length and data length, the index entries, then the data.
func parseRPMHeader(b []byte) (*rpmHeader, error) {
	if len(b) < 8 {
		return nil, errors.New("a package header shorter than 8 bytes")
	}
	il, dl := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if il > 1<<16 || dl > 1<<28 || uint64(len(b)) < 8+uint64(il)*16+uint64(dl) {
		return nil, fmt.Errorf("a package header of %d entries and %d bytes does not fit in %d", il, dl, len(b))
	}
	h := &rpmHeader{entries: make(map[uint32]rpmEntry, il), data: b[8+il*16 : 8+il*16+dl]}
	for i := range il {
		e := b[8+i*16:]
		h.entries[binary.BigEndian.Uint32(e)] = rpmEntry{binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])}
	}
	return h, nil
}

// strings reads a string or string array entry; nil when absent or malformed.
func (h *rpmHeader) strings(tag uint32) []string {
	e, ok := h.entries[tag]
	if !ok || (e.typ != rpmTypeString && e.typ != rpmTypeStringArray && e.typ != rpmTypeI18NString) || e.offset > uint32(len(h.data)) {
		return nil
	}
	out := make([]string, 0, e.count)
	rest := h.data[e.offset:]
	for range e.count {
		end := 0
		for end < len(rest) && rest[end] != 0 {
			end++
		}
		if end == len(rest) {
			return nil
		}
		out = append(out, string(rest[:end]))
		rest = rest[end+1:]
	}
	return out
}

// int32s reads an INT32 entry; nil when absent or malformed.
func (h *rpmHeader) int32s(tag uint32) []uint32 {
	e, ok := h.entries[tag]
	if !ok || e.typ != rpmTypeInt32 || uint64(e.offset)+uint64(e.count)*4 > uint64(len(h.data)) {
		return nil
	}
	out := make([]uint32, e.count)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(h.data[e.offset+uint32(i)*4:])
	}
	return out
}

// files adds the package's files, with their digests, to into.
func (h *rpmHeader) files(into map[string]rpmFile) {
	name := h.strings(rpmTagName)
	base, dirs, idx := h.strings(rpmTagBasenames), h.strings(rpmTagDirnames), h.int32s(rpmTagDirIndexes)
	if len(name) != 1 || len(base) != len(idx) {
		return
	}
	digests := h.strings(rpmTagFileDigests)
	algo := "md5" // rpm's default when the header names none
	if a := h.int32s(rpmTagFileDigestAlgo); len(a) == 1 {
		algo = rpmDigestAlgos[a[0]]
	}
	for i, b := range base {
		if int(idx[i]) >= len(dirs) {
			continue
		}
		f := rpmFile{pkg: name[0]}
		if len(digests) == len(base) && digests[i] != "" && algo != "" {
			f.digest, f.algo = digests[i], algo
		}
		into[dirs[idx[i]]+b] = f
	}
}
