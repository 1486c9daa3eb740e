package report

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// benchJudged is 100k loopback connections in no order.
func benchJudged() []verdict.Judged {
	rng := rand.New(rand.NewPCG(1, 2))
	socks := make([]sockets.Socket, 100000)
	j := make([]verdict.Judged, len(socks))
	lo := netip.MustParseAddr("127.0.0.1")
	for i := range socks {
		socks[i] = sockets.Socket{Proto: sockets.TCP, Local: netip.AddrPortFrom(lo, uint16(32768+rng.IntN(2))), Remote: netip.AddrPortFrom(lo, uint16(rng.IntN(65535))), Inode: uint64(rng.IntN(1e7))}
		if i%2 == 0 {
			socks[i].Local, socks[i].Remote = socks[i].Remote, socks[i].Local
		}
		j[i].Socket = &socks[i]
	}
	rng.Shuffle(len(j), func(a, b int) { j[a], j[b] = j[b], j[a] })
	return j
}

// BenchmarkSort sorts 100k sockets, as a snapshot of a busy host does.
func BenchmarkSort(b *testing.B) {
	base := benchJudged()
	for b.Loop() {
		Sort(slices.Clone(base))
	}
}
