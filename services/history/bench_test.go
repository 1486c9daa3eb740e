package history

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// BenchmarkQueryOnePort measures history's query for one port and for one
// peer over HISTORY_ROWS stored lifetimes (default 1,000,000; the issue's
// figure is 10,000,000), and reports the bytes each lifetime takes on disk.
func BenchmarkQueryOnePort(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("HISTORY_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	path := filepath.Join(b.TempDir(), "h.db")
	db, err := Open(path, true)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Unix(1_800_000_000, 0)
	owners := make([]Owner, 200)
	for i := range owners {
		owners[i] = Owner{PID: 1000 + i, Process: fmt.Sprintf("worker%d", i), Exe: "/usr/bin/worker", User: "www-data", NetNS: 4026531833}
	}
	const batch = 50_000
	for done := 0; done < rows; done += batch {
		ls := make([]*Lifetime, 0, batch)
		for i := done; i < min(done+batch, rows); i++ {
			ls = append(ls, &Lifetime{
				Kind: Connection, Proto: sockets.TCP, Direction: Outbound,
				Local:       netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 2}), uint16(32768+i%28000)),
				Remote:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 16), byte(i >> 8)}), uint16(1024+i%5000)),
				ServicePort: uint16(1024 + i%5000),
				Owner:       owners[i%len(owners)],
				FirstSeen:   t0.Add(time.Duration(i) * time.Millisecond), LastSeen: t0.Add(time.Duration(i)*time.Millisecond + 50*time.Millisecond),
				Source: EBPF,
			})
		}
		if err := db.Write(ls, Counters{}); err != nil {
			b.Fatal(err)
		}
	}
	used, _, err := db.usage()
	if err != nil {
		b.Fatal(err)
	}
	peer := netip.MustParsePrefix("198.51.7.9/32") // 256 lifetimes, as one port has 200
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		n := 0
		f := Filter{Port: uint16(1024 + i%5000)}
		if i%2 == 1 {
			f = Filter{Peer: peer}
		}
		if err := db.Query(f, func(*Lifetime) error { n++; return nil }); err != nil || n == 0 {
			b.Fatalf("%+v: %d, %v", f, n, err)
		}
	}
	b.ReportMetric(float64(used)/float64(rows), "bytes/lifetime")
}
