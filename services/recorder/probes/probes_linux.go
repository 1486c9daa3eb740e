//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux

package probes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/portwarden/portwarden/services/recorder/ring"
	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/sockets"
)

// Reader holds the loaded program and reads its probes.
type Reader struct {
	objs  probesObjects
	link  link.Link
	ring  *ringbuf.Reader
	clock ring.Clock // dates probes; Read's, one at a time
}

// Open loads the program and attaches it to the skb:kfree_skb tracepoint.
// It needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) and a kernel
// whose drops carry a reason (5.17 and later); the error says which step
// failed.
func Open() (*Reader, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("eBPF: lifting the locked-memory limit: %w", err)
	}
	spec, err := loadProbes()
	if err != nil {
		return nil, fmt.Errorf("eBPF: reading the embedded probe program: %w", err)
	}
	r := &Reader{}
	if err := spec.LoadAndAssign(&r.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("eBPF: the kernel's verifier refused the probe program: %+v", verr)
		}
		return nil, fmt.Errorf("eBPF: loading the probe program: %w", err)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: r.objs.Dropped})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("eBPF: attaching to skb:kfree_skb: %w", err)
	}
	r.link = l
	if r.ring, err = ring.NewReader(r.objs.Probes); err != nil {
		r.Close()
		return nil, fmt.Errorf("eBPF: opening the probe ring buffer: %w", err)
	}
	return r, nil
}

// Read waits for the next probe and decodes it into p. After Close or
// Drain's last probe it returns ErrClosed.
func (r *Reader) Read(p *Probe) error {
	var rec ringbuf.Record
	if err := ring.Next(r.ring, &rec, Latency, "probe"); err != nil {
		return err
	}
	if len(rec.RawSample) < probeSize {
		return fmt.Errorf("eBPF: a %d-byte probe, shorter than %d", len(rec.RawSample), probeSize)
	}
	decode(rec.RawSample, p, &r.clock)
	return nil
}

// probeSize is the size of struct probe.
const probeSize = int(unsafe.Sizeof(probesProbe{}))

// decode reads struct probe at its C offsets, dating it on the wall clock
// by CLOCK_BOOTTIME now.
func decode(b []byte, p *Probe, clock *ring.Clock) {
	ne := binary.NativeEndian
	*p = Probe{Time: clock.Wall(ne.Uint64(b[0:])), NetNS: uint64(ne.Uint32(b[8:])), TCPFlags: b[14]}
	switch b[13] {
	case unix.IPPROTO_TCP:
		p.Proto = sockets.TCP
	case unix.IPPROTO_UDP:
		p.Proto = sockets.UDP
	}
	lport, rport := ne.Uint16(b[16:]), ne.Uint16(b[18:])
	switch b[12] {
	case 4:
		p.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[20:24])), lport)
		p.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[36:40])), rport)
	case 6:
		p.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[20:36])), lport)
		p.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[36:52])), rport)
	}
}

// Drain makes Read return every probe waiting, then ErrClosed.
func (r *Reader) Drain() error { return r.ring.Flush() }

// Lost returns how many probes the kernel dropped because the ring buffer
// was full, since Open.
func (r *Reader) Lost() (uint64, error) { return ring.Lost(r.objs.Lost, "probe") }

// Close detaches the program and frees it; a Read in progress returns
// ErrClosed.
func (r *Reader) Close() error {
	var errs []error
	if r.ring != nil {
		errs = append(errs, r.ring.Close())
	}
	if r.link != nil {
		errs = append(errs, r.link.Close())
	}
	errs = append(errs, r.objs.Close())
	return errors.Join(errs...)
}
