package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// diagBufSize is the receive buffer for one netlink read; the kernel fills
// at most 32 KiB per dump message batch, so this never truncates.
const diagBufSize = 64 << 10

// netlinkDumper enumerates sockets through NETLINK_SOCK_DIAG.
type netlinkDumper struct {
	fd  int
	seq uint32
	buf []byte
}

func newNetlinkDumper() (*netlinkDumper, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	return &netlinkDumper{fd: fd, buf: make([]byte, diagBufSize)}, nil
}

func (d *netlinkDumper) close() error { return unix.Close(d.fd) }

// dump appends every socket of one family and protocol whose state bit is
// in states, and counts malformed messages.
func (d *netlinkDumper) dump(family, protocol uint8, proto Proto, states uint32, socks []Socket) ([]Socket, int, error) {
	d.seq++
	return d.run(inetDiagRequest(family, protocol, states, d.seq), proto, socks)
}

// dumpTCP appends every TCP socket of both families whose state bit is in
// states: one walk of the kernel's hash (the older TCPDIAG_GETSOCK request,
// which asks for no family), where a dump per family walks it twice.
func (d *netlinkDumper) dumpTCP(states uint32, socks []Socket) ([]Socket, int, error) {
	d.seq++
	return d.run(tcpDiagRequest(states, d.seq), TCP, socks)
}

// run sends a dump request and appends what comes back.
func (d *netlinkDumper) run(req []byte, proto Proto, socks []Socket) ([]Socket, int, error) {
	malformed := 0
	err := d.exchange(req, func(buf []byte) error {
		var bad int
		var err error
		socks, bad, err = parseInetDiag(buf, proto, socks)
		malformed += bad
		return err
	})
	return socks, malformed, err
}

// exchange sends a dump request and hands each buffer of the answer to
// parse, until parse says the dump is done (errDumpDone: nil here) or
// fails.
func (d *netlinkDumper) exchange(req []byte, parse func(buf []byte) error) error {
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send sock_diag request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read sock_diag reply: %w", err)
		}
		switch err := parse(d.buf[:n]); {
		case errors.Is(err, errDumpDone):
			return nil
		case err != nil:
			return err
		}
	}
}

// lookup reads the one TCP socket with these ends in the dumper's
// namespace: found is false when the kernel has none (a listener it
// offers instead does not count).
func (d *netlinkDumper) lookup(local, remote netip.AddrPort) (s Socket, found bool, err error) {
	d.seq++
	if err := unix.Sendto(d.fd, inetDiagLookup(local, remote, d.seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Socket{}, false, fmt.Errorf("send sock_diag lookup: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Socket{}, false, fmt.Errorf("read sock_diag reply: %w", err)
		}
		if n < nlmsgHdrLen || binary.NativeEndian.Uint32(d.buf[8:]) != d.seq {
			continue // an answer to an earlier request that failed midway
		}
		socks, _, err := parseInetDiag(d.buf[:n], TCP, nil)
		switch {
		case errors.Is(err, unix.ENOENT):
			return Socket{}, false, nil
		case err != nil && !errors.Is(err, errDumpDone):
			return Socket{}, false, err
		case len(socks) == 0:
			return Socket{}, false, errors.New("sock_diag lookup: an answer without a socket")
		}
		s = socks[0]
		return s, s.Local == local && s.Remote == remote && s.State != Listen, nil
	}
}
