//go:build linux

// Package ring holds what the recorder's eBPF readers share: waiting on a
// ring buffer with a bound, the per-CPU count of what a full ring dropped,
// and dating the kernel's CLOCK_BOOTTIME stamps on the wall clock.
package ring

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Next once the ring is closed, or flushed and
// read to its end.
var ErrClosed = os.ErrClosed

// NewReader opens a reader of ring buffer m for Next: its first wait is
// bounded too.
func NewReader(m *ebpf.Map) (*ringbuf.Reader, error) {
	r, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, err
	}
	r.SetDeadline(time.Unix(1, 0)) // passed: Next sets the next one when it runs out
	return r, nil
}

// Next waits for the next record of r (opened by NewReader), looking at least every latency,
// and reads it into rec; what names the ring in errors. A record waiting
// is read at once, whatever the deadline: the clock is read again only
// when a wait ran out, not for every record.
func Next(r *ringbuf.Reader, rec *ringbuf.Record, latency time.Duration, what string) error {
	for {
		err := r.ReadInto(rec)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, ringbuf.ErrFlushed):
			return ErrClosed
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("eBPF: reading the %s ring buffer: %w", what, err)
		}
		r.SetDeadline(time.Now().Add(latency))
	}
}

// Lost sums a per-CPU array's one counter: what the program could not put
// in its full ring.
func Lost(m *ebpf.Map, what string) (uint64, error) {
	var perCPU []uint64
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return 0, fmt.Errorf("eBPF: reading the lost %s count: %w", what, err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n, nil
}

// Wall dates a CLOCK_BOOTTIME stamp (ns since boot) on the wall clock, by
// the two clocks read now.
func Wall(boot uint64) time.Time {
	at := time.Now()
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
		at = at.Add(-time.Duration(uint64(ts.Nano()) - boot))
	}
	return at
}

// clockFresh is how long a Clock trusts the difference between the two
// clocks it read: the wall clock may be set or slewed meanwhile.
const clockFresh = 200 * time.Millisecond

// Clock dates CLOCK_BOOTTIME stamps on the wall clock as Wall does,
// reading both clocks again only when a stamp is clockFresh past the one
// it last read them for: a burst of events costs no clock read each. The
// zero value is ready; not safe for concurrent use.
type Clock struct {
	boot uint64    // the stamp the clocks were read for
	at   time.Time // its wall time
}

// Wall dates a CLOCK_BOOTTIME stamp.
func (c *Clock) Wall(boot uint64) time.Time {
	if c.boot == 0 || boot < c.boot || boot-c.boot > uint64(clockFresh) {
		c.boot, c.at = boot, Wall(boot)
	}
	return c.at.Add(time.Duration(boot - c.boot))
}
