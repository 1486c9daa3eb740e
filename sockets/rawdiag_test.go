package sockets

import (
	"encoding/binary"
	"errors"
	"strings"
	"syscall"
	"testing"
)

// TestDoneCarriesTheError: a dump the kernel has no handler for ends with
// NLMSG_DONE holding -ENOENT; read as an empty table it would hide every
// socket of the protocol.
func TestDoneCarriesTheError(t *testing.T) {
	msg := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], nlmsgDone)
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen:], uint32(0xfffffffe)) // -2
	if _, _, err := parseInetDiag(msg, UDP, nil); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("inet_diag: want ENOENT, got %v", err)
	}
	if err := eachDiagMsg(msg, func([]byte) {}); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("raw: want ENOENT, got %v", err)
	}
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen:], 0)
	if err := eachDiagMsg(msg, func([]byte) {}); !errors.Is(err, errDumpDone) {
		t.Errorf("a clean end: want errDumpDone, got %v", err)
	}
}

// TestPacketFilterWithheld: the kernel sends an empty PACKET_DIAG_FILTER
// to a caller without CAP_NET_ADMIN; that is not "no filter".
func TestPacketFilterWithheld(t *testing.T) {
	msg := make([]byte, packetDiagMsgLen+4)
	msg[0] = afPacket
	binary.NativeEndian.PutUint16(msg[packetDiagMsgLen:], 4)
	binary.NativeEndian.PutUint16(msg[packetDiagMsgLen+2:], packetDiagFilter)
	r, ok := parsePacketDiagMsg(msg)
	if !ok || r.FilterState != FilterUnread {
		t.Errorf("withheld filter: got %v, ok %v", r.FilterState, ok)
	}
	r, ok = parsePacketDiagMsg(msg[:packetDiagMsgLen])
	if !ok || r.FilterState != FilterNone {
		t.Errorf("no filter attribute: got %v, ok %v", r.FilterState, ok)
	}
}

func TestParseProcPacket(t *testing.T) {
	in := "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n" +
		"0000000091ce48c7 3      2    0806   2     1 0      0      2783196\n" +
		"garbage\n"
	got, bad, err := parseProcPacket(strings.NewReader(in))
	if err != nil || bad != 1 || len(got) != 1 {
		t.Fatalf("got %+v, %d malformed, %v", got, bad, err)
	}
	if r := got[0]; r.String() != "packet socket (arp) on interface 2" || !r.Cooked || r.Inode != 2783196 || r.FilterState != FilterUnread {
		t.Errorf("got %+v (%s)", r, r.String())
	}
}

// FuzzRawDiag feeds random netlink buffers to the packet and raw socket
// parsers: a malformed answer is counted or refused, never a panic.
func FuzzRawDiag(f *testing.F) {
	msg := make([]byte, nlmsgHdrLen+packetDiagMsgLen+12)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], sockDiagByFam)
	msg[nlmsgHdrLen] = afPacket
	binary.NativeEndian.PutUint16(msg[nlmsgHdrLen+packetDiagMsgLen:], 12)
	binary.NativeEndian.PutUint16(msg[nlmsgHdrLen+packetDiagMsgLen+2:], packetDiagFilter)
	f.Add(msg)
	f.Fuzz(func(t *testing.T, b []byte) {
		eachDiagMsg(b, func(body []byte) {
			parsePacketDiagMsg(body)
			parseRawDiagMsg(body)
		})
	})
}
