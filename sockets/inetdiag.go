package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// Netlink sock_diag wire format (linux/netlink.h, linux/inet_diag.h). Kept
// free of build tags so the parser can be tested and fuzzed anywhere.
const (
	nlmsgHdrLen     = 16
	nlmsgDone       = 3
	nlmsgError      = 2
	sockDiagByFam   = 20
	tcpDiagGetSock  = 18 // TCPDIAG_GETSOCK: the older request, both families at once
	inetDiagOldLen  = 60 // struct inet_diag_req
	inetDiagMsgLen  = 72
	inetDiagReqLen  = 56
	nlmFRequest     = 0x1
	nlmFDump        = 0x300
	afInet          = 2
	afInet6         = 10
	ipprotoTCP      = 6
	ipprotoUDP      = 17
	nlmsgAlignBytes = 4
	inetDiagV6Only  = 11 // INET_DIAG_SKV6ONLY attribute
	inetDiagInfo    = 2  // INET_DIAG_INFO attribute: struct tcp_info

	// askInfo is idiag_ext's bit for INET_DIAG_INFO: each TCP socket's
	// struct tcp_info in the same dump, whose byte counters Traffic holds.
	askInfo = 1 << (inetDiagInfo - 1)
	// Offsets in struct tcp_info (linux/tcp.h) of tcpi_bytes_received,
	// tcpi_bytes_sent and tcpi_bytes_retrans (all there since Linux
	// 4.19); a shorter tcp_info has no counters.
	tcpInfoBytesReceived = 128
	tcpInfoBytesSent     = 200
	tcpInfoBytesRetrans  = 208
)

var errDumpDone = errors.New("dump done")

// doneErr reads NLMSG_DONE: errDumpDone, or the error the kernel put in
// it. A dump the kernel has no handler for (no raw_diag or udp_diag
// module) ends at once with -ENOENT there, not with NLMSG_ERROR: read as
// an empty table, it would be a false all-clear.
func doneErr(body []byte) error {
	if len(body) >= 4 {
		if errno := -int32(binary.NativeEndian.Uint32(body)); errno > 0 {
			return fmt.Errorf("netlink: sock_diag: %w", syscall.Errno(errno))
		}
	}
	return errDumpDone
}

// inetDiagRequest builds a SOCK_DIAG_BY_FAMILY dump request for one address
// family and protocol, asking for the sockets whose state bit is in states.
func inetDiagRequest(family, protocol uint8, states uint32, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], sockDiagByFam)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b[16] = family
	b[17] = protocol
	if protocol == ipprotoTCP && states&^(1<<Listen) != 0 {
		b[18] = askInfo // idiag_ext: counters, where a connection may be (a listener has none)
	}
	binary.NativeEndian.PutUint32(b[20:], states)
	return b
}

// tcpDiagRequest builds a TCPDIAG_GETSOCK dump request for the TCP
// sockets of both families whose state bit is in states (struct
// inet_diag_req: the family is not asked, so the kernel walks its hash
// once for both).
func tcpDiagRequest(states uint32, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagOldLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], tcpDiagGetSock)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b[nlmsgHdrLen+3] = askInfo                                  // idiag_ext
	binary.NativeEndian.PutUint32(b[nlmsgHdrLen+4+48:], states) // after family, lengths, ext and the sockid
	return b
}

// inetDiagLookup builds a SOCK_DIAG_BY_FAMILY request for the one TCP
// socket with these ends (not a dump): the kernel looks it up in its
// connection hash, as a packet from remote to local would be, and answers
// with it or with ENOENT. Where no connection matches, the kernel may
// answer with a listener on the local port instead: callers check the
// ends of what comes back.
func inetDiagLookup(local, remote netip.AddrPort, seq uint32) []byte {
	family := uint8(afInet6)
	if local.Addr().Is4() {
		family = afInet
	}
	b := inetDiagRequest(family, ipprotoTCP, ^uint32(0), seq)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequest)
	id := b[nlmsgHdrLen+8:] // struct inet_diag_sockid
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	putDiagAddr(id[4:20], local.Addr())
	putDiagAddr(id[20:36], remote.Addr())
	binary.NativeEndian.PutUint64(id[40:], ^uint64(0)) // INET_DIAG_NOCOOKIE: any socket with these ends
	return b
}

// putDiagAddr writes an address as inet_diag_sockid holds it: an IPv4
// address in the first four bytes, an IPv6 one in all sixteen.
func putDiagAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		v4 := a.As4()
		copy(b, v4[:])
		return
	}
	v6 := a.As16()
	copy(b, v6[:])
}

// parseInetDiag appends the sockets in one buffer of netlink messages to
// socks. It returns errDumpDone after NLMSG_DONE, the kernel's error for
// NLMSG_ERROR, and counts messages too short to be an inet_diag_msg.
func parseInetDiag(buf []byte, proto Proto, socks []Socket) ([]Socket, int, error) {
	malformed := 0
	for len(buf) >= nlmsgHdrLen {
		msgLen := int(binary.NativeEndian.Uint32(buf[0:]))
		typ := binary.NativeEndian.Uint16(buf[4:])
		if msgLen < nlmsgHdrLen || msgLen > len(buf) {
			return socks, malformed + 1, fmt.Errorf("netlink: message length %d outside buffer of %d", msgLen, len(buf))
		}
		body := buf[nlmsgHdrLen:msgLen]
		switch typ {
		case nlmsgDone:
			return socks, malformed, doneErr(body)
		case nlmsgError:
			if len(body) >= 4 {
				if errno := -int32(binary.NativeEndian.Uint32(body)); errno != 0 {
					return socks, malformed, fmt.Errorf("netlink: sock_diag: %w", syscall.Errno(errno))
				}
			}
		case sockDiagByFam, tcpDiagGetSock:
			if s, ok := parseInetDiagMsg(body, proto); ok {
				socks = append(socks, s)
			} else {
				malformed++
			}
		}
		aligned := (msgLen + nlmsgAlignBytes - 1) &^ (nlmsgAlignBytes - 1)
		if aligned > len(buf) {
			break
		}
		buf = buf[aligned:]
	}
	return socks, malformed, nil
}

// parseInetDiagMsg decodes struct inet_diag_msg. Ports and addresses are in
// network byte order; uid and inode in host order.
func parseInetDiagMsg(b []byte, proto Proto) (Socket, bool) {
	if len(b) < inetDiagMsgLen {
		return Socket{}, false
	}
	family, state := b[0], b[1]
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	var local, remote netip.Addr
	switch family {
	case afInet:
		local = netip.AddrFrom4([4]byte(b[8:12]))
		remote = netip.AddrFrom4([4]byte(b[24:28]))
	case afInet6:
		local = netip.AddrFrom16([16]byte(b[8:24]))
		remote = netip.AddrFrom16([16]byte(b[24:40]))
	default:
		return Socket{}, false
	}
	if state == 0 || state > uint8(NewSynRecv) {
		return Socket{}, false
	}
	s := Socket{
		Proto:  proto,
		Local:  netip.AddrPortFrom(local, sport),
		Remote: netip.AddrPortFrom(remote, dport),
		State:  State(state),
		UID:    binary.NativeEndian.Uint32(b[64:]),
		Inode:  uint64(binary.NativeEndian.Uint32(b[68:])),
		Cookie: binary.NativeEndian.Uint64(b[44:52]), // inet_diag_sockid.idiag_cookie
		// idiag_timer and idiag_expires: which timer runs (3 for a
		// timewait socket) and in how many milliseconds it fires.
		timer:     b[2],
		expiresMs: binary.NativeEndian.Uint32(b[52:56]),
	}
	readAttrs(b[inetDiagMsgLen:], family, &s)
	return s, true
}

// readAttrs reads the attributes that follow an inet_diag_msg (struct
// rtattr: length u16, type u16, payload): INET_DIAG_SKV6ONLY of an IPv6
// socket, and the byte counters in a TCP socket's INET_DIAG_INFO.
func readAttrs(attrs []byte, family uint8, s *Socket) {
	for len(attrs) >= 4 {
		n := int(binary.NativeEndian.Uint16(attrs[0:]))
		typ := binary.NativeEndian.Uint16(attrs[2:])
		if n < 4 || n > len(attrs) {
			return
		}
		switch {
		case typ == inetDiagV6Only && n >= 5:
			s.V6Only = family == afInet6 && attrs[4] != 0
		case typ == inetDiagInfo && s.Proto == TCP && n >= 4+tcpInfoBytesRetrans+8:
			info := attrs[4:n]
			s.Bytes = Traffic{Rx: binary.NativeEndian.Uint64(info[tcpInfoBytesReceived:]),
				Tx: binary.NativeEndian.Uint64(info[tcpInfoBytesSent:]) - binary.NativeEndian.Uint64(info[tcpInfoBytesRetrans:])}
			if s.Bytes.Rx > 0 && (s.State == CloseWait || s.State == LastAck || s.State == Closing) {
				s.Bytes.Rx-- // the peer's FIN, which tcpi_bytes_received counts as a byte
			}
			s.Counted = true
		}
		aligned := (n + nlmsgAlignBytes - 1) &^ (nlmsgAlignBytes - 1)
		if aligned >= len(attrs) {
			return
		}
		attrs = attrs[aligned:]
	}
}
