package app

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// BenchmarkOneRowRefresh measures the dashboard's refresh when one
// listener comes or goes between refreshes (bench-dashboard.sh's one-row
// phase) on a live population: what a changing box costs.
// PORTWARDEN_BENCH_CONNS and PORTWARDEN_BENCH_PROCS size the population.
func BenchmarkOneRowRefresh(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("reading every owner needs root")
	}
	pop, err := sockettest.Start(sockettest.BenchConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer pop.Close()
	feed, err := tcpevents.OpenFeed()
	if err != nil {
		b.Fatalf("eBPF (root, BTF) is needed: %v", err)
	}
	defer feed.Close()
	dir := b.TempDir()
	a, err := New(Options{BaselinePath: filepath.Join(dir, "baseline.toml"), AuditPath: filepath.Join(dir, "audit.log"), Changes: feed})
	if err != nil {
		b.Fatal(err)
	}
	for range 3 {
		if _, err := a.Inspect(sockets.Query{}); err != nil {
			b.Fatal(err)
		}
	}
	var toggled net.Listener
	defer func() {
		if toggled != nil {
			toggled.Close()
		}
	}()
	for b.Loop() {
		b.StopTimer()
		if toggled == nil {
			if toggled, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
				b.Fatal(err)
			}
		} else {
			toggled.Close()
			toggled = nil
		}
		b.StartTimer()
		if _, err := a.Inspect(sockets.Query{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(pop.Sockets), "sockets")
}
