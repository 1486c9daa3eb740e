package sockets

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// Benchmarks run against a live population; its size comes from
// PORTWARDEN_BENCH_CONNS and PORTWARDEN_BENCH_PROCS (default 10000/100,
// i.e. 20k sockets). scripts/bench-snapshot.sh compares the whole command
// with ss, netstat, lsof and go-netstat.

var benchPop struct {
	once sync.Once
	pop  *sockettest.Population
	err  error
}

func population(b *testing.B) *sockettest.Population {
	b.Helper()
	benchPop.once.Do(func() {
		benchPop.pop, benchPop.err = sockettest.Start(sockettest.BenchConfig())
	})
	if benchPop.err != nil {
		b.Fatal(benchPop.err)
	}
	return benchPop.pop
}

func benchCollect(b *testing.B, m Method) {
	pop := population(b)
	c := NewLinuxCollector("/proc", m)
	b.ReportAllocs()
	for b.Loop() {
		snap, err := c.Collect(Query{})
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Sockets) < pop.Sockets {
			b.Fatalf("saw %d sockets, population holds %d", len(snap.Sockets), pop.Sockets)
		}
	}
	b.ReportMetric(float64(pop.Sockets), "sockets")
}

func BenchmarkCollectNetlink(b *testing.B) { benchCollect(b, Netlink) }

// BenchmarkCollectSteady is a dashboard's refresh: the same collector
// again, with no socket new since the last one, so only new processes'
// fds are read (a full walk still happens every fullWalkEvery).
func BenchmarkCollectSteady(b *testing.B) {
	pop := population(b)
	c := NewLinuxCollector("/proc", Netlink)
	if _, err := c.Collect(Query{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, err := c.Collect(Query{})
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Sockets) < pop.Sockets {
			b.Fatalf("saw %d sockets", len(snap.Sockets))
		}
	}
}
func BenchmarkCollectProcFS(b *testing.B) { benchCollect(b, ProcFS) }

// BenchmarkWalkOwners measures the attribution walk alone: one readlink per
// open fd on the machine, matched against the socket index.
func BenchmarkWalkOwners(b *testing.B) {
	pop := population(b)
	snap, err := NewLinuxCollector("/proc", Netlink).Collect(Query{})
	if err != nil {
		b.Fatal(err)
	}
	want := make(map[uint64]int32, len(snap.Sockets))
	for i, s := range snap.Sockets {
		if s.Inode != 0 {
			want[s.Inode] = int32(i)
		}
	}
	pids, err := listPIDs("/proc")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res := walkOwners("/proc", pids, inMap(want))
		if len(res.hits) < pop.Sockets {
			b.Fatalf("found %d owners, population holds %d sockets", len(res.hits), pop.Sockets)
		}
	}
}

// BenchmarkNetlinkDump measures enumeration alone, the `ss -tuan` part.
func BenchmarkNetlinkDump(b *testing.B) {
	population(b)
	d, err := newNetlinkDumper()
	if err != nil {
		b.Fatal(err)
	}
	defer d.close()
	var socks []Socket
	b.ReportAllocs()
	for b.Loop() {
		socks = socks[:0]
		for _, t := range tables {
			socks, _, err = d.dump(t.family, t.protocol, t.proto, ^uint32(0), socks)
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// syntheticProcNet renders n sockets as a /proc/net/tcp6 table.
func syntheticProcNet(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	for i := range n {
		fmt.Fprintf(&buf, "%4d: 0000000000000000FFFF00000100007F:%04X 0000000000000000FFFF00000100007F:%04X 01 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 20 0 0 10 -1\n",
			i, 1024+i%60000, 30000+i%30000, 100000+i)
	}
	return buf.Bytes()
}

func BenchmarkParseProcNet(b *testing.B) {
	table := syntheticProcNet(10000)
	b.SetBytes(int64(len(table)))
	b.ReportAllocs()
	var socks []Socket
	for b.Loop() {
		var err error
		socks, _, err = parseProcNet(bytes.NewReader(table), TCP, true, socks[:0])
		if err != nil || len(socks) != 10000 {
			b.Fatalf("parsed %d sockets: %v", len(socks), err)
		}
	}
}

func BenchmarkParseInetDiag(b *testing.B) {
	var buf []byte
	for i := range 300 { // about one 32 KiB netlink read
		buf = append(buf, diagMsgBench(uint16(1024+i), uint32(100000+i))...)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var socks []Socket
	for b.Loop() {
		socks, _, _ = parseInetDiag(buf, TCP, socks[:0])
		if len(socks) != 300 {
			b.Fatalf("parsed %d", len(socks))
		}
	}
}

func diagMsgBench(port uint16, inode uint32) []byte {
	return diagMsg(Socket{
		Local:  netip.AddrPortFrom(netip.MustParseAddr("::1"), port),
		Remote: netip.AddrPortFrom(netip.MustParseAddr("::1"), 40000),
		State:  Established,
		Inode:  uint64(inode),
	})
}
