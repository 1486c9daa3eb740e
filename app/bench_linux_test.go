package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// BenchmarkRefreshAndSigns measures, in one build and one run on one live
// population, what a whole inspection (a dashboard refresh's backend work)
// costs and what reading the signs of a rogue process costs within it, so
// their ratio is the signs' share of a refresh (issue 21 allows 5 %). The
// population comes from PORTWARDEN_BENCH_CONNS and PORTWARDEN_BENCH_PROCS
// (default 10000/100).
func BenchmarkRefreshAndSigns(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("reading every owner needs root")
	}
	pop, err := sockettest.Start(sockettest.BenchConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer pop.Close()
	dir := b.TempDir()
	a, err := New(Options{BaselinePath: filepath.Join(dir, "baseline.toml"), AuditPath: filepath.Join(dir, "audit.log")})
	if err != nil {
		b.Fatal(err)
	}
	in, err := a.Inspect(sockets.Query{}) // the first refresh fills every cache, as the dashboard's does
	if err != nil {
		b.Fatal(err)
	}
	if len(in.Snapshot.Sockets) < pop.Sockets {
		b.Fatalf("saw %d sockets, the population holds %d", len(in.Snapshot.Sockets), pop.Sockets)
	}
	b.Run("inspect", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.Inspect(sockets.Query{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(pop.Sockets), "sockets")
	})
	b.Run("signs", func(b *testing.B) {
		for b.Loop() {
			a.readSigns(in.Snapshot)
		}
		b.ReportMetric(float64(pop.Sockets), "sockets")
	})
}
