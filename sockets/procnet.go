package sockets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// maxProcNetLine bounds one line of /proc/net/{tcp,udp}{,6}; real lines are
// under 200 bytes, so anything longer is malformed.
const maxProcNetLine = 4096

// errMalformed marks a line of /proc/net that could not be parsed.
var errMalformed = errors.New("malformed line")

// parseProcNet reads a /proc/net/tcp, tcp6, udp or udp6 table and appends
// its sockets to socks. Malformed lines are skipped and counted; the header
// line is recognised and skipped. Only an I/O error is returned as an error.
func parseProcNet(r io.Reader, proto Proto, ipv6 bool, socks []Socket) ([]Socket, int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxProcNetLine)
	malformed := 0
	for sc.Scan() {
		line := sc.Bytes()
		if isProcNetHeader(line) {
			continue
		}
		s, err := parseProcNetLine(line, proto, ipv6)
		if err != nil {
			malformed++
			continue
		}
		socks = append(socks, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return socks, malformed + 1, nil
		}
		return socks, malformed, fmt.Errorf("read socket table: %w", err)
	}
	return socks, malformed, nil
}

func isProcNetHeader(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(line, " "), []byte("sl "))
}

// parseProcNetLine parses one entry:
//
//	sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//	0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12345 1 ...
//
// Columns past the inode vary between kernels and protocols and are ignored.
func parseProcNetLine(line []byte, proto Proto, ipv6 bool) (Socket, error) {
	var f [10][]byte
	n := 0
	for rest := line; n < len(f); n++ {
		rest = bytes.TrimLeft(rest, " \t")
		if len(rest) == 0 {
			break
		}
		end := bytes.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		f[n], rest = rest[:end], rest[end:]
	}
	if n < len(f) || len(f[0]) < 2 || f[0][len(f[0])-1] != ':' {
		return Socket{}, errMalformed
	}
	local, err := parseHexAddrPort(f[1], ipv6)
	if err != nil {
		return Socket{}, err
	}
	remote, err := parseHexAddrPort(f[2], ipv6)
	if err != nil {
		return Socket{}, err
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil || st == 0 || st > uint64(NewSynRecv) {
		return Socket{}, errMalformed
	}
	uid, err := strconv.ParseUint(string(f[7]), 10, 32)
	if err != nil {
		return Socket{}, errMalformed
	}
	inode, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return Socket{}, errMalformed
	}
	return Socket{
		Proto:  proto,
		Local:  local,
		Remote: remote,
		State:  State(st),
		UID:    uint32(uid),
		Inode:  inode,
	}, nil
}

// parseHexAddrPort parses "0100007F:0277". The kernel prints the address as
// 32-bit words in host byte order, so each word is decoded natively.
func parseHexAddrPort(b []byte, ipv6 bool) (netip.AddrPort, error) {
	colon := bytes.IndexByte(b, ':')
	want := 8
	if ipv6 {
		want = 32
	}
	if colon != want || len(b) != want+5 {
		return netip.AddrPort{}, errMalformed
	}
	var raw [16]byte
	if _, err := hex.Decode(raw[:want/2], b[:want]); err != nil {
		return netip.AddrPort{}, errMalformed
	}
	var port [2]byte
	if _, err := hex.Decode(port[:], b[colon+1:]); err != nil {
		return netip.AddrPort{}, errMalformed
	}
	var ip [16]byte
	for w := 0; w < want/8; w++ {
		binary.BigEndian.PutUint32(ip[4*w:], binary.NativeEndian.Uint32(raw[4*w:]))
	}
	var addr netip.Addr
	if ipv6 {
		addr = netip.AddrFrom16(ip)
	} else {
		addr = netip.AddrFrom4([4]byte(ip[:4]))
	}
	return netip.AddrPortFrom(addr, binary.BigEndian.Uint16(port[:])), nil
}
