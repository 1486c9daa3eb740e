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

// Next waits for the next record of r, looking at least every latency,
// and reads it into rec; what names the ring in errors.
func Next(r *ringbuf.Reader, rec *ringbuf.Record, latency time.Duration, what string) error {
	for {
		r.SetDeadline(time.Now().Add(latency))
		err := r.ReadInto(rec)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, ringbuf.ErrFlushed):
			return ErrClosed
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("eBPF: reading the %s ring buffer: %w", what, err)
		}
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
