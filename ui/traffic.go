package ui

import (
	"cmp"
	"strconv"

	"github.com/portwarden/portwarden/services/traffic"
	"github.com/portwarden/portwarden/sockets"
)

// The RX/s and TX/s columns: bytes a second a connection, process or
// peer moved since the last refresh.

// rateColumns are the rate columns, narrow and among the first to go.
func rateColumns(from int) []column {
	return []column{
		{title: "RX/s", min: 6, ideal: 6, priority: 44, compare: byRx, from: from},
		{title: "TX/s", min: 6, ideal: 6, priority: 45, compare: byTx, from: from},
	}
}

func byRx(a, b *sortKeys) int { return cmp.Or(cmp.Compare(b.rate.Rx, a.rate.Rx), byLocal(a, b)) }
func byTx(a, b *sortKeys) int { return cmp.Or(cmp.Compare(b.rate.Tx, a.rate.Tx), byLocal(a, b)) }

// noCounters fills the rate columns of a socket the kernel keeps no byte
// counters for: UDP, TIME_WAIT, a listener.
const noCounters = "—"

// connectionRates renders a connection's rate cells: its rate, or on its
// first reading its totals in parentheses (no rate is known yet).
func connectionRates(v *traffic.View, s *sockets.Socket) (rx, tx string, rate traffic.Rate) {
	total, rate, counted, rated := v.Of(s)
	switch {
	case !counted:
		return noCounters, noCounters, rate
	case !rated:
		return "(" + humanBytes(float64(total.Rx)) + ")", "(" + humanBytes(float64(total.Tx)) + ")", rate
	}
	return humanBytes(rate.Rx), humanBytes(rate.Tx), rate
}

// sumRates renders summed rates (a process's, a peer's).
func sumRates(r traffic.Rate) (rx, tx string) { return humanBytes(r.Rx), humanBytes(r.Tx) }

// humanBytes writes a byte count in at most five cells: 0, 999, 1.2K,
// 34K, 5.0M, 1.2G, 3.4T.
func humanBytes(n float64) string {
	if n < 1000 {
		return strconv.Itoa(int(n))
	}
	for _, unit := range []string{"K", "M", "G", "T"} {
		n /= 1024
		if n < 9.95 {
			return strconv.FormatFloat(n, 'f', 1, 64) + unit
		}
		if n < 999.5 || unit == "T" {
			return strconv.Itoa(int(n+0.5)) + unit
		}
	}
	return strconv.Itoa(int(n))
}
