package history

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

func testLifetime(i int, first time.Time) *Lifetime {
	return &Lifetime{
		Kind: Connection, Proto: sockets.TCP, Direction: Outbound,
		Local:       netip.MustParseAddrPort("192.0.2.1:40000"),
		Remote:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 256)}), 443),
		ServicePort: 443,
		Owner:       Owner{PID: 100 + i%7, Process: "curl", Exe: "/usr/bin/curl", User: "root", NetNS: 4026531833},
		FirstSeen:   first, LastSeen: first.Add(50 * time.Millisecond),
		Source: EBPF,
	}
}

func TestWriteUpdateQuery(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "h.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Unix(1_800_000_000, 123456789)
	ln := &Lifetime{Kind: Listener, Proto: sockets.UDP, Local: netip.MustParseAddrPort("[::]:5353"), ServicePort: 5353,
		Owner: Owner{PID: 7, Process: "avahi", User: "avahi"}, FirstSeen: t0, LastSeen: t0, Open: true, Source: Poll}
	conn := testLifetime(1, t0.Add(time.Second))
	conn.Bytes, conn.Counted = sockets.Traffic{Rx: 5 << 30, Tx: 52_428_800}, true
	if err := db.Write([]*Lifetime{ln, conn}, Counters{Events: 3, Lost: 1, Source: EBPF}); err != nil {
		t.Fatal(err)
	}
	if ln.ID == 0 {
		t.Fatal("the open lifetime got no ID")
	}
	ln.LastSeen, ln.Open = t0.Add(time.Hour), false
	if err := db.Write([]*Lifetime{ln}, Counters{Events: 2}); err != nil {
		t.Fatal(err)
	}
	var got []Lifetime
	collect := func(l *Lifetime) error { got = append(got, *l); return nil }
	if err := db.Query(Filter{}, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != *ln || got[1].Remote != conn.Remote || !got[1].LastSeen.Equal(conn.LastSeen) || got[1].Owner != conn.Owner ||
		!got[1].Counted || got[1].Bytes != conn.Bytes || got[0].Counted {
		t.Fatalf("read back %+v\nwant %+v and %+v", got, *ln, *conn)
	}
	for _, c := range []struct {
		f    Filter
		want int
	}{
		{Filter{Port: 443}, 1},
		{Filter{Port: 5353, Proto: sockets.TCP}, 0},
		{Filter{Peer: netip.MustParsePrefix("198.51.100.0/24")}, 1},
		{Filter{Peer: netip.MustParsePrefix("198.51.101.0/24")}, 0},
		{Filter{Since: t0.Add(2 * time.Second)}, 1}, // the listener lived on; the connection ended
		{Filter{Until: t0.Add(500 * time.Millisecond)}, 1},
		{Filter{Kind: Listener}, 1},
		{Filter{PID: 7}, 1},
		{Filter{Process: "curl"}, 1},
		{Filter{Open: true}, 0},
		{Filter{Last: 1}, 1},
	} {
		got = nil
		if err := db.Query(c.f, collect); err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("%+v: %d lifetimes, want %d", c.f, len(got), c.want)
		}
	}
	got = nil
	if err := db.Query(Filter{Last: 1}, collect); err != nil || len(got) != 1 || got[0].Kind != Connection {
		t.Errorf("the last one: %+v, %v; want the connection, first seen last", got, err)
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Lifetimes != 2 || s.Events != 5 || s.Lost != 1 || s.Source != EBPF || !s.Oldest.Equal(t0) || !s.Newest.Equal(t0.Add(time.Hour)) || s.Bytes == 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestForeignAndCorruptFilesLeftUntouched: a file that is not the record,
// or a damaged record, is refused and not changed by a byte.
func TestForeignAndCorruptFilesLeftUntouched(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := Open(good, true)
	if err != nil {
		t.Fatal(err)
	}
	var batch []*Lifetime
	for i := range 5000 {
		batch = append(batch, testLifetime(i, time.Unix(1_800_000_000+int64(i), 0)))
	}
	if err := db.Write(batch, Counters{}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	image, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(image)
	copy(damaged[len(damaged)/2:], bytes.Repeat([]byte{0xA5}, 4096)) // a page in the middle
	otherApp := bytes.Clone(image)
	otherApp[68], otherApp[69] = 0, 1

	for name, content := range map[string][]byte{
		"text":      []byte("not a database at all\n"),
		"other app": otherApp,
		"damaged":   damaged,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, writable := range []bool{true, false} {
			db, err := Open(path, writable)
			if err == nil && !writable {
				err = db.Query(Filter{}, func(*Lifetime) error { return nil })
			}
			if db != nil {
				db.Close()
			}
			if err == nil {
				t.Errorf("%s (writable %v): opened", name, writable)
			}
			if name != "damaged" && !errors.Is(err, ErrForeign) {
				t.Errorf("%s: %v, want ErrForeign", name, err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, content) {
				t.Fatalf("%s (writable %v): the file changed", name, writable)
			}
			if !writable {
				continue // a reader may leave SQLite's shared-memory index beside it
			}
			for _, extra := range []string{"-wal", "-shm", "-journal"} {
				if fi, err := os.Stat(path + extra); err == nil && fi.Size() > 0 {
					t.Errorf("%s: left %s%s", name, name, extra)
				}
			}
		}
	}
}

func TestTrimByAgeAndSize(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "h.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Unix(1_800_000_000, 0)
	var batch []*Lifetime
	for i := range 20000 {
		batch = append(batch, testLifetime(i, now.Add(-time.Duration(20000-i)*time.Minute)))
	}
	batch[0].Open = true // the oldest still open: never trimmed
	if err := db.Write(batch, Counters{}); err != nil {
		t.Fatal(err)
	}
	removed, err := db.Trim(Retention{MaxAge: 7 * 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(20000 - 7*24*60 - 1); removed != want {
		t.Errorf("trimmed %d by age, want %d", removed, want)
	}
	used, rows, err := db.usage()
	if err != nil {
		t.Fatal(err)
	}
	limit := used / 2
	if _, err := db.Trim(Retention{MaxBytes: limit}, now); err != nil {
		t.Fatal(err)
	}
	used2, rows2, _ := db.usage()
	if used2 > limit || rows2 >= rows || rows2 == 0 {
		t.Errorf("after trimming to %d bytes: %d bytes, %d of %d rows", limit, used2, rows2, rows)
	}
	open, err := db.OpenLifetimes()
	if err != nil || len(open) != 1 || open[0].ID != batch[0].ID {
		t.Errorf("the open lifetime: %v %v", open, err)
	}
}

// TestMigratesAnOlderRecord opens a record of schema 1 — the first
// recorder's — for writing: it is brought to this version with its
// lifetimes, which read back with no namespace name and no runs.
func TestMigratesAnOlderRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := openSQL(path, true)
	if err != nil {
		t.Fatal(err)
	}
	stmt := migrations[0] + fmt.Sprintf("; PRAGMA application_id = %d; PRAGMA user_version = 1;", applicationID) +
		`INSERT INTO owners (id, pid, process, exe, user, unit, container, netns) VALUES (1, 7, 'curl', '/usr/bin/curl', 'root', '', '', 4026531840);
		INSERT INTO lifetimes (class, local_addr, local_port, remote_addr, remote_port, service_port, owner, first_seen, duration, open)
			VALUES (6 | (2 << 8), x'c0000201', 40000, x'c6336407', 443, 443, 1, 1000, 5, 0);
		PRAGMA wal_checkpoint(TRUNCATE);`
	if _, err := old.sql.Exec(stmt); err != nil {
		t.Fatal(err)
	}
	old.Close()
	db, err := Open(path, true)
	if err != nil {
		t.Fatalf("open for writing: %v", err)
	}
	defer db.Close()
	var got []Lifetime
	if err := db.Query(Filter{}, func(l *Lifetime) error { got = append(got, *l); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Owner.Process != "curl" || got[0].Owner.NetNSName != "" || got[0].Remote.Port() != 443 || got[0].Counted {
		t.Errorf("after migration: %+v", got)
	}
	if gaps, err := db.Gaps(time.Time{}, time.Time{}, time.Now(), false); err != nil || len(gaps) != 0 {
		t.Errorf("a record with no runs has no gaps to say: %v %v", gaps, err)
	}
}
