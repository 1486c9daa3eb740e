package ui

import (
	"cmp"

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
// counters for: UDP, TIME_WAIT, a listener whose connections are not
// summed (no counters, the first reading).
const noCounters = "—"

// connectionRates renders a connection's rate cells: its rate, or on its
// first reading its totals in parentheses (no rate is known yet).
//
// A listener's cells sum the connections it accepted: what the service
// carries now.
func connectionRates(v *traffic.View, s *sockets.Socket) (rx, tx string, rate traffic.Rate) {
	if r, ok := v.Listener(s); ok {
		rx, tx = sumRates(r)
		return rx, tx, r
	}
	total, rate, counted, rated := v.Of(s)
	switch {
	case !counted:
		return noCounters, noCounters, rate
	case !rated:
		return "(" + traffic.Bytes(float64(total.Rx)) + ")", "(" + traffic.Bytes(float64(total.Tx)) + ")", rate
	}
	return traffic.Bytes(rate.Rx), traffic.Bytes(rate.Tx), rate
}

// sumRates renders summed rates (a process's, a peer's, a listener's).
func sumRates(r traffic.Rate) (rx, tx string) { return traffic.Bytes(r.Rx), traffic.Bytes(r.Tx) }
