package verdict

import (
	"sync"
	"testing"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// The bar: verdicts for 50k sockets add less than 10% to the
// snapshot. Both benchmarks use one live population of 25k connections
// (50k sockets) over 100 processes; compare their ns/op.

var benchPop struct {
	once sync.Once
	pop  *sockettest.Population
	err  error
}

func population50k(b *testing.B) {
	b.Helper()
	benchPop.once.Do(func() {
		benchPop.pop, benchPop.err = sockettest.Start(sockettest.Config{Conns: 25000, Procs: 100, V6: 0.25, UDP: 1})
	})
	if benchPop.err != nil {
		b.Fatal(benchPop.err)
	}
}

func BenchmarkCollect50k(b *testing.B) {
	population50k(b)
	c := sockets.NewCollector()
	for b.Loop() {
		if _, err := c.Collect(sockets.Query{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAssess50k(b *testing.B) {
	population50k(b)
	snap, err := sockets.NewCollector().Collect(sockets.Query{})
	if err != nil {
		b.Fatal(err)
	}
	base := &baseline.Baseline{Entries: []baseline.Entry{{Proto: "tcp", Port: 22}, {Proto: "udp", Port: 53}}}
	a := &Assessor{Catalog: catalog.Embedded(), Baseline: base, Interfaces: Interfaces{}}
	b.ReportAllocs()
	for b.Loop() {
		if v := a.Assess(snap); len(v) != len(snap.Sockets) {
			b.Fatal("verdict count")
		}
	}
	b.ReportMetric(float64(len(snap.Sockets)), "sockets")
}
