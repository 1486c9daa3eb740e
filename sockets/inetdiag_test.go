package sockets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// diagMsg builds one netlink message carrying an inet_diag_msg for s, laid
// out as the kernel sends it.
func diagMsg(s Socket) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagMsgLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], sockDiagByFam)
	m := b[nlmsgHdrLen:]
	m[0] = afInet
	if s.Local.Addr().Is6() {
		m[0] = afInet6
	}
	m[1] = byte(s.State)
	binary.BigEndian.PutUint16(m[4:], s.Local.Port())
	binary.BigEndian.PutUint16(m[6:], s.Remote.Port())
	l, r := s.Local.Addr().AsSlice(), s.Remote.Addr().AsSlice()
	copy(m[8:], l)
	copy(m[24:], r)
	binary.NativeEndian.PutUint32(m[64:], s.UID)
	binary.NativeEndian.PutUint32(m[68:], uint32(s.Inode))
	return b
}

func nlDone() []byte {
	b := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nlmsgDone)
	return b
}

func nlError(errno syscall.Errno) []byte {
	b := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nlmsgError)
	binary.NativeEndian.PutUint32(b[16:], uint32(-int32(errno)))
	return b
}

func TestParseInetDiag(t *testing.T) {
	ap := netip.MustParseAddrPort
	want := []Socket{
		{Proto: TCP, Local: ap("127.0.0.1:22"), Remote: ap("0.0.0.0:0"), State: Listen, UID: 0, Inode: 101},
		{Proto: TCP, Local: ap("[::ffff:127.0.0.1]:8080"), Remote: ap("[::ffff:127.0.0.1]:40000"), State: Established, UID: 1000, Inode: 102},
		{Proto: TCP, Local: ap("[2001:db8::7]:443"), Remote: ap("[2001:db8::1]:50000"), State: TimeWait},
	}
	var buf []byte
	for _, s := range want {
		buf = append(buf, diagMsg(s)...)
	}
	buf = append(buf, nlDone()...)
	got, bad, err := parseInetDiag(buf, TCP, nil)
	if !errors.Is(err, errDumpDone) || bad != 0 {
		t.Fatalf("err %v, malformed %d; want errDumpDone and 0", err, bad)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sockets, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Local != w.Local || g.Remote != w.Remote || g.State != w.State || g.UID != w.UID || g.Inode != w.Inode {
			t.Errorf("socket %d: got %+v, want %+v", i, g, w)
		}
	}

	short := append(diagMsg(want[0])[:nlmsgHdrLen+40:nlmsgHdrLen+40], 0, 0, 0, 0)
	binary.NativeEndian.PutUint32(short, uint32(len(short)))
	if _, bad, _ := parseInetDiag(short, TCP, nil); bad != 1 {
		t.Errorf("a short inet_diag_msg counted %d malformed, want 1", bad)
	}
	if _, _, err := parseInetDiag(nlError(syscall.ENOENT), UDP, nil); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("NLMSG_ERROR gave %v, want ENOENT", err)
	}
	overlong := diagMsg(want[0])
	binary.NativeEndian.PutUint32(overlong, 9999)
	if _, _, err := parseInetDiag(overlong, TCP, nil); err == nil {
		t.Error("a length past the buffer was accepted")
	}
}

func FuzzParseInetDiag(f *testing.F) {
	f.Add(append(diagMsg(Socket{Local: netip.MustParseAddrPort("127.0.0.1:22"), State: Listen}), nlDone()...))
	f.Add(nlError(syscall.EINVAL))
	f.Fuzz(func(t *testing.T, buf []byte) {
		socks, _, _ := parseInetDiag(buf, TCP, nil)
		for _, s := range socks {
			if !s.Local.IsValid() || s.State == StateUnknown {
				t.Fatalf("accepted an invalid socket %+v", s)
			}
		}
	})
}

// TestParseTCPInfoCounters reads the byte counters out of an INET_DIAG_INFO
// attribute as the kernel lays out struct tcp_info, and none out of one
// too short to hold them (a kernel before 4.19).
func TestParseTCPInfoCounters(t *testing.T) {
	s := Socket{Proto: TCP, Local: netip.MustParseAddrPort("10.0.0.1:22"), Remote: netip.MustParseAddrPort("10.0.0.2:40000"), State: Established}
	withInfo := func(size int) []byte {
		msg := diagMsg(s)
		info := make([]byte, size)
		if size >= tcpInfoBytesRetrans+8 {
			binary.NativeEndian.PutUint64(info[tcpInfoBytesReceived:], 5000)
			binary.NativeEndian.PutUint64(info[tcpInfoBytesSent:], 90000)
			binary.NativeEndian.PutUint64(info[tcpInfoBytesRetrans:], 3000)
		}
		attr := make([]byte, 4, 4+size)
		binary.NativeEndian.PutUint16(attr[0:], uint16(4+size))
		binary.NativeEndian.PutUint16(attr[2:], inetDiagInfo)
		msg = append(msg, append(attr, info...)...)
		binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
		return msg
	}
	got, _, _ := parseInetDiag(withInfo(232), TCP, nil)
	if len(got) != 1 || !got[0].Counted || got[0].Bytes != (Traffic{Rx: 5000, Tx: 87000}) {
		t.Fatalf("got %+v; want counted rx 5000, tx 87000 (sent less retransmitted)", got)
	}
	s.State = CloseWait // the peer's FIN came, counted as a byte by the kernel
	got, _, _ = parseInetDiag(withInfo(232), TCP, nil)
	if len(got) != 1 || got[0].Bytes.Rx != 4999 {
		t.Fatalf("in CLOSE_WAIT: %+v; want rx 4999, without the FIN", got)
	}
	s.State = Established
	got, _, _ = parseInetDiag(withInfo(160), TCP, nil)
	if len(got) != 1 || got[0].Counted {
		t.Fatalf("a tcp_info without the counters read as counted: %+v", got)
	}
	got, _, _ = parseInetDiag(withInfo(232), UDP, nil)
	if len(got) != 1 || got[0].Counted {
		t.Fatalf("a UDP socket read as counted: %+v", got)
	}
}
