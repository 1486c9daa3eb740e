package app

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	cpu0 := cpuTime(b)
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
	// CPU, not wall time: the garbage collector works on the other core.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(pop.Sockets), "sockets")
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
