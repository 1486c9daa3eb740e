package sockets

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
)

// The sock_diag wire format of packet sockets (linux/packet_diag.h) and
// raw IP sockets (raw_diag, which answers inet_diag requests for
// IPPROTO_RAW). Kept free of build tags, as inetdiag.go is.
const (
	afPacket         = 17
	ipprotoRaw       = 255
	packetDiagReqLen = 20 // struct packet_diag_req
	packetDiagMsgLen = 16 // struct packet_diag_msg
	packetShowInfo   = 0x01
	packetShowFilter = 0x20
	packetDiagInfo   = 0 // PACKET_DIAG_INFO: struct packet_diag_info
	packetDiagUID    = 5 // PACKET_DIAG_UID
	packetDiagFilter = 7 // PACKET_DIAG_FILTER: struct sock_filter[]
	sockDgram        = 2
)

// packetDiagRequest builds a dump request for every packet socket of the
// namespace, with its interface, owner and filter.
func packetDiagRequest(seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+packetDiagReqLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], sockDiagByFam)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b[16] = afPacket
	binary.NativeEndian.PutUint32(b[nlmsgHdrLen+8:], packetShowInfo|packetShowFilter)
	return b
}

// eachDiagMsg calls fn with the body of each sock_diag answer in buf. It
// returns errDumpDone after NLMSG_DONE and the kernel's error for
// NLMSG_ERROR.
func eachDiagMsg(buf []byte, fn func(body []byte)) error {
	for len(buf) >= nlmsgHdrLen {
		msgLen := int(binary.NativeEndian.Uint32(buf[0:]))
		typ := binary.NativeEndian.Uint16(buf[4:])
		if msgLen < nlmsgHdrLen || msgLen > len(buf) {
			return fmt.Errorf("netlink: message length %d outside buffer of %d", msgLen, len(buf))
		}
		body := buf[nlmsgHdrLen:msgLen]
		switch typ {
		case nlmsgDone:
			return doneErr(body)
		case nlmsgError:
			if len(body) >= 4 {
				if errno := -int32(binary.NativeEndian.Uint32(body)); errno != 0 {
					return fmt.Errorf("netlink: sock_diag: %w", syscall.Errno(errno))
				}
			}
		case sockDiagByFam:
			fn(body)
		}
		aligned := (msgLen + nlmsgAlignBytes - 1) &^ (nlmsgAlignBytes - 1)
		if aligned > len(buf) {
			break
		}
		buf = buf[aligned:]
	}
	return nil
}

// parsePacketDiagMsg decodes struct packet_diag_msg and its attributes.
func parsePacketDiagMsg(b []byte) (RawSocket, bool) {
	if len(b) < packetDiagMsgLen || b[0] != afPacket {
		return RawSocket{}, false
	}
	r := RawSocket{
		Kind:     PacketSocket,
		Cooked:   b[1] == sockDgram,
		Protocol: binary.NativeEndian.Uint16(b[2:]), // the kernel turned it to host order
		Inode:    uint64(binary.NativeEndian.Uint32(b[4:])),
		Cookie:   binary.NativeEndian.Uint64(b[8:]),
	}
	ok, filterSent := true, false
	eachAttr(b[packetDiagMsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case packetDiagInfo:
			if len(v) < 4 {
				ok = false
				return
			}
			r.Ifindex = int(binary.NativeEndian.Uint32(v))
		case packetDiagUID:
			if len(v) < 4 {
				ok = false
				return
			}
			r.UID = binary.NativeEndian.Uint32(v)
		case packetDiagFilter:
			filterSent = true
			r.Filter, r.FilterState = decodeFilter(v)
		}
	})
	if !filterSent {
		// The kernel sends an empty attribute to callers it will not
		// show a filter to, and none when no filter is attached.
		r.FilterState = FilterNone
	}
	return r, ok
}

// decodeFilter reads a PACKET_DIAG_FILTER attribute: an array of struct
// sock_filter, empty when the caller may not see it.
func decodeFilter(v []byte) ([]FilterInstruction, FilterState) {
	if len(v) == 0 || len(v)%8 != 0 {
		return nil, FilterUnread
	}
	out := make([]FilterInstruction, 0, len(v)/8)
	for ; len(v) >= 8; v = v[8:] {
		out = append(out, FilterInstruction{Op: binary.NativeEndian.Uint16(v), Jt: v[2], Jf: v[3], K: binary.NativeEndian.Uint32(v[4:])})
	}
	return out, FilterAttached
}

// eachAttr calls fn with each netlink attribute (struct nlattr) of b.
func eachAttr(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b[0:]))
		if n < 4 || n > len(b) {
			return
		}
		fn(binary.NativeEndian.Uint16(b[2:])&0x3fff, b[4:n]) // without NLA_F_NESTED and byte-order flags
		aligned := (n + nlmsgAlignBytes - 1) &^ (nlmsgAlignBytes - 1)
		if aligned >= len(b) {
			return
		}
		b = b[aligned:]
	}
}

// parseRawDiagMsg decodes a raw IP socket from raw_diag: an inet_diag_msg
// whose local port is the IP protocol (inet_num), as ss -w shows it.
func parseRawDiagMsg(b []byte) (RawSocket, bool) {
	s, ok := parseInetDiagMsg(b, 0)
	if !ok {
		return RawSocket{}, false
	}
	return RawSocket{
		Kind: IPSocket, IPVersion: s.IPVersion(), Protocol: s.Local.Port(), Local: s.Local.Addr(),
		Ifindex: int(binary.NativeEndian.Uint32(b[40:44])), // inet_diag_sockid.idiag_if
		UID:     s.UID, Inode: s.Inode, Cookie: s.Cookie,
		// inet_diag does not report a raw socket's filter.
		FilterState: FilterUnread,
	}, true
}

// parseProcPacket reads /proc/net/packet:
//
//	sk       RefCnt Type Proto  Iface R Rmem   User   Inode
//	00000000a1b2c3d4 3  3    0003   0     1 0      0      2783196
//
// It does not tell the filter.
func parseProcPacket(r io.Reader) ([]RawSocket, int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxProcNetLine)
	var out []RawSocket
	malformed := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "sk" {
			continue
		}
		if len(f) < 9 {
			malformed++
			continue
		}
		typ, e1 := strconv.ParseUint(f[2], 10, 8)
		proto, e2 := strconv.ParseUint(f[3], 16, 16)
		ifindex, e3 := strconv.ParseUint(f[4], 10, 31)
		uid, e4 := strconv.ParseUint(f[7], 10, 32)
		inode, e5 := strconv.ParseUint(f[8], 10, 64)
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil || e5 != nil {
			malformed++
			continue
		}
		out = append(out, RawSocket{Kind: PacketSocket, Cooked: typ == sockDgram, Protocol: uint16(proto),
			Ifindex: int(ifindex), UID: uint32(uid), Inode: inode})
	}
	if err := sc.Err(); err != nil {
		return out, malformed, fmt.Errorf("read /proc/net/packet: %w", err)
	}
	return out, malformed, nil
}

// parseProcRaw reads /proc/net/raw or raw6, which keep the udp tables'
// format with the IP protocol for a local port.
func parseProcRaw(r io.Reader, ipv6 bool) ([]RawSocket, int, error) {
	socks, bad, err := parseProcNet(r, 0, ipv6, nil)
	out := make([]RawSocket, 0, len(socks))
	for _, s := range socks {
		out = append(out, RawSocket{Kind: IPSocket, IPVersion: s.IPVersion(), Protocol: s.Local.Port(),
			Local: s.Local.Addr(), UID: s.UID, Inode: s.Inode})
	}
	return out, bad, err
}
