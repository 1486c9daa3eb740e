package sockets

import (
	"errors"
	"fmt"

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
	req := inetDiagRequest(family, protocol, states, d.seq)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return socks, 0, fmt.Errorf("send sock_diag request: %w", err)
	}
	malformed := 0
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return socks, malformed, fmt.Errorf("read sock_diag reply: %w", err)
		}
		var bad int
		socks, bad, err = parseInetDiag(d.buf[:n], proto, socks)
		malformed += bad
		if errors.Is(err, errDumpDone) {
			return socks, malformed, nil
		}
		if err != nil {
			return socks, malformed, err
		}
	}
}
