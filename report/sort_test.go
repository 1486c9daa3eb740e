package report

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// TestSortKeepsTheSocketsOrder sorts enough sockets to be sorted in two
// halves, many tying on every key but one (the zero address, IPv4 beside
// IPv6 and v4-mapped, zones, ports, inodes), and checks the result is in
// compareSockets' order and holds every socket once.
func TestSortKeepsTheSocketsOrder(t *testing.T) {
	addrs := []netip.Addr{{}, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("::"),
		netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:127.0.0.1"), netip.MustParseAddr("fe80::1"),
		netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::1%eth1"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}
	ports := []uint16{0, 1, 22, 443, 65535}
	rng := rand.New(rand.NewPCG(1, 2))
	var judged []verdict.Judged
	for range 3 * parallelSortFrom { // sorted on two cores and merged
		s := &sockets.Socket{Proto: sockets.Proto(rng.IntN(2)),
			Local:  netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], ports[rng.IntN(len(ports))]),
			Remote: netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], ports[rng.IntN(len(ports))]),
			Inode:  uint64(rng.IntN(3))}
		judged = append(judged, verdict.Judged{Socket: s})
	}
	want := slices.Clone(judged)
	Sort(judged)
	if !slices.IsSortedFunc(judged, func(x, y verdict.Judged) int { return compareSockets(x.Socket, y.Socket) }) {
		t.Fatal("not in the sockets' order")
	}
	seen := map[*sockets.Socket]int{}
	for _, j := range judged {
		seen[j.Socket]++
	}
	for _, j := range want {
		if seen[j.Socket] != 1 {
			t.Fatalf("socket %v appears %d times", j.Socket, seen[j.Socket])
		}
	}
}

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
