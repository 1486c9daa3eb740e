//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux

package tcpevents

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/portwarden/portwarden/services/recorder/ring"
	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/sockets"
)

// Reader holds the loaded program and reads its events.
type Reader struct {
	objs  tcpEventsObjects
	links []link.Link
	ring  *ringbuf.Reader
	dec   decoder // Read's and Poll's, one at a time
}

// Open loads the recorder's program (Options{}); see OpenWith.
func Open() (*Reader, error) { return OpenWith(Options{}) }

// OpenWith loads the program into the kernel and attaches it. It needs root
// (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN), a kernel with BTF
// tracepoints (5.5 and later; 5.12 for socket cookies), and no lockdown
// forbidding BPF; the error says which step failed.
func OpenWith(opts Options) (*Reader, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("eBPF: lifting the locked-memory limit: %w", err)
	}
	spec, err := loadTcpEvents()
	if err != nil {
		return nil, fmt.Errorf("eBPF: reading the embedded program: %w", err)
	}
	if err := spec.Variables[tcpEventsVarAcceptNr].Set(acceptSyscalls[0]); err != nil {
		return nil, fmt.Errorf("eBPF: setting accept's number: %w", err)
	}
	if err := spec.Variables[tcpEventsVarAccept4Nr].Set(acceptSyscalls[1]); err != nil {
		return nil, fmt.Errorf("eBPF: setting accept4's number: %w", err)
	}
	if opts.EveryChange {
		if err := spec.Variables[tcpEventsVarEveryChange].Set(uint8(1)); err != nil {
			return nil, fmt.Errorf("eBPF: asking for every change: %w", err)
		}
	}
	if opts.RingBytes != 0 {
		spec.Maps["events"].MaxEntries = opts.RingBytes
	}
	if opts.TrafficSockets != 0 {
		spec.Maps["traffic"].MaxEntries = opts.TrafficSockets
	}
	r := &Reader{}
	if err := spec.LoadAndAssign(&r.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("eBPF: the kernel's verifier refused the program: %+v", verr)
		}
		return nil, fmt.Errorf("eBPF: loading the program: %w", err)
	}
	progs := []*ebpf.Program{r.objs.StateChange, r.objs.Accepted}
	if opts.Traffic {
		progs = append(progs, r.objs.Moved)
	}
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("eBPF: attaching %s: %w", p, err)
		}
		r.links = append(r.links, l)
	}
	rb, err := ring.NewReader(r.objs.Events)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("eBPF: opening the ring buffer: %w", err)
	}
	r.ring = rb
	return r, nil
}

// Latency bounds how long an event can wait in the ring buffer: the
// program wakes the reader only when much is waiting, and the reader looks
// this often besides.
const Latency = 100 * time.Millisecond

// Read waits for the next event and decodes it into ev. After Close it
// returns ErrClosed.
func (r *Reader) Read(ev *Event) error {
	var rec ringbuf.Record
	if err := ring.Next(r.ring, &rec, Latency, "TCP event"); err != nil {
		return err
	}
	if len(rec.RawSample) < eventSize {
		return fmt.Errorf("eBPF: a %d-byte event, shorter than %d", len(rec.RawSample), eventSize)
	}
	var raw tcpEventsEvent
	unmarshal(rec.RawSample, &raw)
	r.dec.decode(&raw, rec.RawSample, ev)
	return nil
}

// Poll calls fn with every event waiting, without waiting for more. ev is
// reused between calls.
func (r *Reader) Poll(fn func(ev *Event)) error {
	var rec ringbuf.Record
	var raw tcpEventsEvent
	var ev Event
	r.ring.SetDeadline(time.Unix(1, 0)) // in the past: read what waits, then stop
	for {
		err := r.ring.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, ringbuf.ErrFlushed):
			return ErrClosed
		case err != nil:
			return fmt.Errorf("eBPF: reading the ring buffer: %w", err)
		case len(rec.RawSample) < eventSize:
			return fmt.Errorf("eBPF: a %d-byte event, shorter than %d", len(rec.RawSample), eventSize)
		}
		unmarshal(rec.RawSample, &raw)
		r.dec.decode(&raw, rec.RawSample, &ev)
		fn(&ev)
	}
}

// eventSize is the size of struct event.
const eventSize = int(unsafe.Sizeof(tcpEventsEvent{}))

// unmarshal reads struct event field by field: binary.Read's reflection
// cost more than everything else the recorder does with an event. The
// offsets are the C struct's (checked against binary.Read in a test).
func unmarshal(b []byte, raw *tcpEventsEvent) {
	ne := binary.NativeEndian
	raw.TimeNs, raw.Sock, raw.Cookie, raw.StartNs = ne.Uint64(b[0:]), ne.Uint64(b[8:]), ne.Uint64(b[16:]), ne.Uint64(b[24:])
	raw.Netns, raw.Pid = ne.Uint32(b[32:]), ne.Uint32(b[36:])
	raw.Kind, raw.OldState, raw.NewState, raw.Family = b[40], b[41], b[42], b[43]
	raw.LocalPort, raw.RemotePort = ne.Uint16(b[44:]), ne.Uint16(b[46:])
	copy(raw.LocalAddr[:], b[48:64])
	copy(raw.RemoteAddr[:], b[64:80])
	// comm (80) and the cgroup's names (128, 192): decode reads them
	// from b as strings.
	raw.Cgroup, raw.Uid, raw.Gid = ne.Uint64(b[96:]), ne.Uint32(b[104:]), ne.Uint32(b[108:])
	raw.RxBytes, raw.TxBytes = ne.Uint64(b[112:]), ne.Uint64(b[120:])
}

// decoder turns the kernel's records into Events: it dates them, and
// keeps the last process name and cgroup it read as strings, which most
// events repeat (no allocation for them).
type decoder struct {
	clock      ring.Clock
	comm, tail memo
}

// memo is a string and the bytes it was made of.
type memo struct {
	raw []byte
	s   string
}

// of returns the string of b, made by mk when b is not the last bytes.
func (m *memo) of(b []byte, mk func() string) string {
	if m.raw == nil || !bytes.Equal(m.raw, b) {
		m.raw, m.s = append(m.raw[:0], b...), mk()
	}
	return m.s
}

// decode turns the kernel's record (raw, unmarshalled from b) into an
// Event, dating it on the wall clock by CLOCK_BOOTTIME.
func (d *decoder) decode(raw *tcpEventsEvent, b []byte, ev *Event) {
	*ev = Event{
		Kind:         Kind(raw.Kind),
		Time:         d.clock.Wall(raw.TimeNs),
		Sock:         raw.Sock,
		Cookie:       raw.Cookie,
		NetNS:        uint64(raw.Netns),
		PID:          int(raw.Pid),
		ProcessStart: raw.StartNs,
		UID:          raw.Uid,
		GID:          raw.Gid,
		Cgroup:       raw.Cgroup,
		Old:          sockets.State(raw.OldState),
		New:          sockets.State(raw.NewState),
		Bytes:        sockets.Traffic{Rx: raw.RxBytes, Tx: raw.TxBytes},
	}
	ev.Comm = d.comm.of(b[80:96], func() string { return cString(b[80:96]) })
	ev.CgroupTail = d.tail.of(b[128:288], func() string {
		if leaf := cString(b[192:288]); leaf != "" {
			return "/" + cString(b[128:192]) + "/" + leaf
		}
		return ""
	})
	rport := binary.BigEndian.Uint16(binary.NativeEndian.AppendUint16(nil, raw.RemotePort))
	switch raw.Family {
	case unix.AF_INET:
		ev.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw.LocalAddr[:4])), raw.LocalPort)
		ev.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw.RemoteAddr[:4])), rport)
	case unix.AF_INET6:
		ev.Local = netip.AddrPortFrom(netip.AddrFrom16(raw.LocalAddr), raw.LocalPort)
		ev.Remote = netip.AddrPortFrom(netip.AddrFrom16(raw.RemoteAddr), rport)
	}
}

// cString reads a NUL-terminated string the kernel wrote.
func cString(b []byte) string {
	if n := bytes.IndexByte(b, 0); n >= 0 {
		b = b[:n]
	}
	return string(b)
}

// Drain makes Read return every event waiting, then ErrClosed: to stop
// without leaving events unread.
func (r *Reader) Drain() error {
	return r.ring.Flush()
}

// Lost returns how many events the kernel dropped because the ring buffer
// was full, since Open; with Options.Traffic, counters the full traffic
// map could not take count too.
func (r *Reader) Lost() (uint64, error) {
	n, err := ring.Lost(r.objs.Lost, "event")
	if err != nil {
		return 0, err
	}
	m, err := ring.Lost(r.objs.TrafficLost, "traffic counter")
	return n + m, err
}

// trafficBatch is how many connections' counters one system call takes
// out of the traffic map.
const trafficBatch = 4096

// Moved calls fn with the newest byte counters of every connection that
// received a segment since the last call (Options.Traffic), by socket
// cookie, and empties the map. A connection that moved nothing is not
// named.
func (r *Reader) Moved(fn func(cookie uint64, t sockets.Traffic)) error {
	keys := make([]uint64, trafficBatch)
	vals := make([]tcpEventsCounters, trafficBatch)
	var cursor ebpf.MapBatchCursor
	for {
		n, err := r.objs.Traffic.BatchLookupAndDelete(&cursor, keys, vals, nil)
		for i := range n {
			fn(keys[i], sockets.Traffic{Rx: vals[i].Rx, Tx: vals[i].Tx})
		}
		switch {
		case errors.Is(err, ebpf.ErrKeyNotExist):
			return nil // the whole map was read
		case err != nil:
			return fmt.Errorf("eBPF: reading the traffic counters: %w", err)
		}
	}
}

// Close detaches the program and frees it; a Read in progress returns
// ErrClosed.
func (r *Reader) Close() error {
	var errs []error
	if r.ring != nil {
		errs = append(errs, r.ring.Close())
	}
	for _, l := range r.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, r.objs.Close())
	return errors.Join(errs...)
}
