package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// sock_diag message types and flags for one socket by its identity.
const (
	sockDestroy = 21 // SOCK_DESTROY
	nlmFAck     = 0x4
)

// Destroy closes connection s with sock_diag's SOCK_DESTROY, in the
// network namespace nsPath refers to ("" for portwarden's own): the kernel
// aborts the socket as if the network failed, and for TCP sends the peer a
// reset. The process holding it sees an error on its next read or write
// and lives on. It needs CAP_NET_ADMIN; a kernel built without
// CONFIG_INET_DIAG_DESTROY answers ErrDestroyUnsupported, and a connection
// that already closed ErrClosed.
func Destroy(nsPath string, s *Socket) error {
	if open, err := Open(nsPath, s); err != nil {
		return err
	} else if !open {
		return ErrClosed
	}
	return byIdentity(nsPath, s, sockDestroy, nlmFRequest|nlmFAck)
}

// Open reports whether connection s is still open in the namespace nsPath
// refers to, asking the kernel for it by its identity. The kernel looks
// the identity up as it would an arriving packet, so once the connection
// is gone it answers with the listener that would take that packet: only
// a socket with the same remote end, and not closed, counts.
func Open(nsPath string, s *Socket) (bool, error) {
	err := byIdentity(nsPath, s, sockDiagByFam, nlmFRequest)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrClosed):
		return false, nil
	}
	return false, err
}

// Errors of Destroy.
var (
	ErrDestroyUnsupported = errors.New("this kernel cannot close a connection from outside (it was built without CONFIG_INET_DIAG_DESTROY): kill the process, or block the peer")
	ErrClosed             = errors.New("no such connection: it has closed already")
)

// byIdentity sends one sock_diag request for exactly s (its protocol,
// both ends, any interface and cookie) and reads the answer: a socket, or
// an error.
func byIdentity(nsPath string, s *Socket, typ, flags uint16) error {
	var d *netlinkDumper
	var err error
	if nsPath == "" {
		d, err = newNetlinkDumper()
	} else {
		d, err = newNetlinkDumperIn(nsPath)
	}
	if err != nil {
		return err
	}
	defer d.close()
	d.seq++
	if err := unix.Sendto(d.fd, identityRequest(s, typ, flags, d.seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
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
		found, err := identityReply(d.buf[:n])
		if err == nil && found != nil && (found.Remote.Port() != s.Remote.Port() || found.State == Listen || found.State == Close) {
			return ErrClosed
		}
		return err
	}
}

// identityRequest builds the request: struct nlmsghdr, then struct
// inet_diag_req_v2 whose inet_diag_sockid names the socket, with no
// cookie (INET_DIAG_NOCOOKIE) so that the kernel matches the addresses.
func identityRequest(s *Socket, typ, flags uint16, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0] = afInet6
	if s.IPVersion() == 4 {
		r[0] = afInet
	}
	r[1] = ipprotoTCP
	if s.Proto == UDP {
		r[1] = ipprotoUDP
	}
	binary.NativeEndian.PutUint32(r[4:], ^uint32(0)) // any state
	binary.BigEndian.PutUint16(r[8:], s.Local.Port())
	binary.BigEndian.PutUint16(r[10:], s.Remote.Port())
	copy(r[12:28], s.Local.Addr().AsSlice())
	copy(r[28:44], s.Remote.Addr().AsSlice())
	binary.NativeEndian.PutUint32(r[48:], ^uint32(0))
	binary.NativeEndian.PutUint32(r[52:], ^uint32(0))
	return b
}

// identityReply reads the kernel's answer: an acknowledgement (errno 0),
// an error, or a socket.
func identityReply(b []byte) (*Socket, error) {
	if len(b) < nlmsgHdrLen {
		return nil, errors.New("sock_diag: short reply")
	}
	msgLen := min(int(binary.NativeEndian.Uint32(b[0:])), len(b))
	switch binary.NativeEndian.Uint16(b[4:]) {
	case sockDiagByFam:
		found, ok := parseInetDiagMsg(b[nlmsgHdrLen:msgLen], TCP)
		if !ok {
			return nil, errors.New("sock_diag: malformed reply")
		}
		return &found, nil
	case nlmsgError:
		if len(b) < nlmsgHdrLen+4 {
			return nil, errors.New("sock_diag: short error reply")
		}
		switch errno := unix.Errno(-int32(binary.NativeEndian.Uint32(b[nlmsgHdrLen:]))); errno {
		case 0:
			return nil, nil
		case unix.ENOENT:
			return nil, ErrClosed
		case unix.EOPNOTSUPP:
			return nil, ErrDestroyUnsupported
		case unix.EPERM, unix.EACCES:
			return nil, fmt.Errorf("sock_diag: %w (closing a connection needs root, CAP_NET_ADMIN)", errno)
		default:
			return nil, fmt.Errorf("sock_diag: %w", errno)
		}
	}
	return nil, errors.New("sock_diag: unexpected reply")
}
