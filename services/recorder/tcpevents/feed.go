package tcpevents

import (
	"github.com/portwarden/portwarden/sockets"
)

// feedRingBytes holds about 87,000 events: a second of more than 8,000
// connections opened and closed. A fuller ring loses events, which makes
// the collector read everything again.
const feedRingBytes = 8 << 20

// Feed reports every state change of every TCP socket, and the byte
// counters of every connection that moved, to a collector that keeps its
// table between full reads: a sockets.ChangeFeed.
type Feed struct {
	r    *Reader
	lost uint64
}

// OpenFeed loads the program in its every-change mode; see OpenWith for
// what that needs.
func OpenFeed() (*Feed, error) {
	r, err := OpenWith(Options{EveryChange: true, RingBytes: feedRingBytes, Traffic: true})
	if err != nil {
		return nil, err
	}
	return &Feed{r: r}, nil
}

// Changes appends every change waiting to buf. lost is true when the
// kernel dropped some since the last call, or the ring could not be read.
func (f *Feed) Changes(buf []sockets.TCPChange) ([]sockets.TCPChange, bool, error) {
	err := f.r.Poll(func(ev *Event) {
		buf = append(buf, sockets.TCPChange{NetNS: ev.NetNS, Sock: ev.Sock, Cookie: ev.Cookie,
			Old: ev.Old, New: ev.New, PID: ev.PID, Local: ev.Local, Remote: ev.Remote})
	})
	if err != nil {
		return buf, true, err
	}
	// After the states: a connection's counters may name it before the
	// change that makes the table hold it.
	err = f.r.Moved(func(cookie uint64, t sockets.Traffic) {
		buf = append(buf, sockets.TCPChange{Moved: true, Cookie: cookie, Bytes: t})
	})
	if err != nil {
		return buf, true, err
	}
	n, err := f.r.Lost()
	if err != nil {
		return buf, true, err
	}
	lost := n != f.lost
	f.lost = n
	return buf, lost, nil
}

// Close detaches the program.
func (f *Feed) Close() error { return f.r.Close() }
