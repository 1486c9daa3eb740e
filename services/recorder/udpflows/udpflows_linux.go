//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux

package udpflows

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/portwarden/portwarden/services/recorder/ring"
)

// Reader holds the attached programs and reads their events.
type Reader struct {
	objs  udpFlowsObjects
	links []link.Link
	ring  *ringbuf.Reader
	clock ring.Clock // dates flows; Read's, one at a time
}

// Open loads the programs and attaches them to the root of the cgroup v2
// hierarchy, where they see every UDP socket of every process. It needs
// root and a kernel with the sock_release hook (5.9 and later); the error
// says which step failed.
func Open() (*Reader, error) {
	root, err := cgroup2Root("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("eBPF: lifting the locked-memory limit: %w", err)
	}
	r := &Reader{}
	if err := loadUdpFlowsObjects(&r.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("eBPF: the kernel's verifier refused the UDP programs: %+v", verr)
		}
		return nil, fmt.Errorf("eBPF: loading the UDP programs: %w", err)
	}
	for _, a := range []struct {
		p  *ebpf.Program
		at ebpf.AttachType
	}{
		{r.objs.Connect4, ebpf.AttachCGroupInet4Connect}, {r.objs.Connect6, ebpf.AttachCGroupInet6Connect},
		{r.objs.Sendmsg4, ebpf.AttachCGroupUDP4Sendmsg}, {r.objs.Sendmsg6, ebpf.AttachCGroupUDP6Sendmsg},
		{r.objs.Recvmsg4, ebpf.AttachCGroupUDP4Recvmsg}, {r.objs.Recvmsg6, ebpf.AttachCGroupUDP6Recvmsg},
		{r.objs.Released, ebpf.AttachCgroupInetSockRelease},
	} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: root, Attach: a.at, Program: a.p})
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("eBPF: attaching %s to %s: %w", a.p, root, err)
		}
		r.links = append(r.links, l)
	}
	if r.ring, err = ring.NewReader(r.objs.Events); err != nil {
		r.Close()
		return nil, fmt.Errorf("eBPF: opening the UDP ring buffer: %w", err)
	}
	return r, nil
}

// cgroup2Root finds where the cgroup v2 hierarchy is mounted: at
// /sys/fs/cgroup on a unified system, /sys/fs/cgroup/unified on a hybrid
// one.
func cgroup2Root(mountinfo string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", fmt.Errorf("eBPF: finding the cgroup v2 hierarchy: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS … - FSTYPE SOURCE …
		left, right, ok := strings.Cut(sc.Text(), " - ")
		fields, fs := strings.Fields(left), strings.Fields(right)
		if ok && len(fields) >= 5 && len(fs) > 0 && fs[0] == "cgroup2" && fields[3] == "/" {
			return fields[4], nil
		}
	}
	return "", errors.New("eBPF: no cgroup v2 hierarchy is mounted: UDP is not traced")
}

// Read waits for the next event and decodes it into f. After Close, or
// Drain's last event, it returns ErrClosed.
func (r *Reader) Read(f *Flow) error {
	var rec ringbuf.Record
	if err := ring.Next(r.ring, &rec, Latency, "UDP"); err != nil {
		return err
	}
	if len(rec.RawSample) < eventSize {
		return fmt.Errorf("eBPF: a %d-byte UDP event, shorter than %d", len(rec.RawSample), eventSize)
	}
	decode(rec.RawSample, f, &r.clock)
	return nil
}

const eventSize = int(unsafe.Sizeof(udpFlowsFlowEvent{}))

// decode reads struct flow_event at its C offsets, dating it on the wall
// clock by CLOCK_BOOTTIME now.
func decode(b []byte, f *Flow, clock *ring.Clock) {
	ne := binary.NativeEndian
	at := clock.Wall(ne.Uint64(b[0:]))
	n := 0
	for n < 16 && b[88+n] != 0 {
		n++
	}
	*f = Flow{Kind: Kind(b[44]), Time: at, Cookie: ne.Uint64(b[8:]), NetNS: ne.Uint64(b[16:]), Cgroup: ne.Uint64(b[24:]),
		PID: int(ne.Uint32(b[32:])), UID: ne.Uint32(b[36:]), GID: ne.Uint32(b[40:]), Comm: string(b[88 : 88+n]),
		ProcessStart: ne.Uint64(b[104:])}
	lport, pport := ne.Uint16(b[46:]), ne.Uint16(b[48:])
	switch b[45] {
	case 4:
		f.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[56:60])), lport)
		if f.Kind != Release {
			f.Peer = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[72:76])), pport)
		}
	case 6:
		f.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[56:72])), lport)
		if f.Kind != Release {
			f.Peer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[72:88])), pport)
		}
	}
}

// Drain makes Read return every event waiting, then ErrClosed.
func (r *Reader) Drain() error { return r.ring.Flush() }

// Lost returns how many events the kernel dropped because the ring buffer
// was full, since Open.
func (r *Reader) Lost() (uint64, error) { return ring.Lost(r.objs.Lost, "UDP event") }

// Close detaches the programs and frees them; a Read in progress returns
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
