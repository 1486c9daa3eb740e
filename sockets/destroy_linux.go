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
//
// The request names the socket's cookie, so it is one step: the kernel
// destroys that very socket or answers that it is gone — never a
// listener, nor a later connection, that the same addresses now find. A
// socket read without a cookie (from /proc/net) is first looked up by its
// addresses, refusing anything but the same open connection.
func Destroy(nsPath string, s *Socket) error {
	target := *s
	if target.Cookie == 0 {
		found, err := lookup(nsPath, s)
		if err != nil {
			return err
		}
		target.Cookie = found.Cookie
	}
	_, err := byIdentity(nsPath, &target, sockDestroy, nlmFRequest|nlmFAck)
	return err
}

// Open reports whether connection s is still open in the namespace nsPath
// refers to, asking the kernel for it by its identity (and its cookie,
// when known). Without a cookie the kernel looks the addresses up as it
// would an arriving packet, so once the connection is gone it may answer
// with the listener that would take that packet: only a socket with the
// same remote end, and not closed, counts.
func Open(nsPath string, s *Socket) (bool, error) {
	_, err := lookup(nsPath, s)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrClosed):
		return false, nil
	}
	return false, err
}

// lookup asks the kernel for connection s and returns what it found, or
// ErrClosed when that is not the same open connection.
func lookup(nsPath string, s *Socket) (*Socket, error) {
	found, err := byIdentity(nsPath, s, sockDiagByFam, nlmFRequest)
	if err != nil {
		return nil, err
	}
	if found == nil || found.Remote.Port() != s.Remote.Port() || found.Local.Port() != s.Local.Port() ||
		found.State == Listen || found.State == Close {
		return nil, ErrClosed
	}
	return found, nil
}

// Errors of Destroy.
var (
	ErrDestroyUnsupported = errors.New("this kernel cannot close a connection from outside (it was built without CONFIG_INET_DIAG_DESTROY): kill the process, or block the peer")
	ErrClosed             = errors.New("no such connection: it has closed already")
)

// byIdentity sends one sock_diag request for exactly s (its protocol,
// both ends, any interface, its cookie when known) and reads the answer:
// a socket (nil for an acknowledgement), or an error.
func byIdentity(nsPath string, s *Socket, typ, flags uint16) (*Socket, error) {
	var d *netlinkDumper
	var err error
	if nsPath == "" {
		d, err = newNetlinkDumper()
	} else {
		d, err = newNetlinkDumperIn(nsPath)
	}
	if err != nil {
		return nil, err
	}
	defer d.close()
	d.seq++
	if err := unix.Sendto(d.fd, identityRequest(s, typ, flags, d.seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send sock_diag request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read sock_diag reply: %w", err)
		}
		return identityReply(d.buf[:n])
	}
}

// identityRequest builds the request: struct nlmsghdr, then struct
// inet_diag_req_v2 whose inet_diag_sockid names the socket, with its
// cookie, or without one (INET_DIAG_NOCOOKIE) so that the kernel matches
// the addresses alone.
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
	if s.Cookie != 0 {
		binary.NativeEndian.PutUint64(r[48:], s.Cookie)
	} else {
		binary.NativeEndian.PutUint64(r[48:], ^uint64(0))
	}
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
