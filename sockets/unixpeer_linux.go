package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// unix_diag's wire format (linux/unix_diag.h).
const (
	afUnix         = 1
	unixDiagReqLen = 24 // struct unix_diag_req
	unixDiagMsgLen = 16 // struct unix_diag_msg
	udiagShowPeer  = 0x4
	unixDiagPeer   = 2 // UNIX_DIAG_PEER: the peer's inode
)

// UnixPeer returns the inode of the other end of unix socket inode, which
// process pid holds: the end a socketpair's or a connection's other
// process holds. It asks unix_diag in pid's network namespace, where the
// kernel keeps the socket. 0 and no error: the socket has no peer.
func UnixPeer(procRoot string, pid int, inode uint64) (uint64, error) {
	nsPath := procRoot + "/" + strconv.Itoa(pid) + "/ns/net"
	var d *netlinkDumper
	var err error
	if sameNetNS(nsPath, procRoot+"/thread-self/ns/net") {
		d, err = newNetlinkDumper()
	} else {
		d, err = newNetlinkDumperIn(nsPath)
	}
	if err != nil {
		return 0, err
	}
	defer d.close()
	d.seq++
	req := make([]byte, nlmsgHdrLen+unixDiagReqLen)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFam)
	binary.NativeEndian.PutUint16(req[6:], nlmFRequest)
	binary.NativeEndian.PutUint32(req[8:], d.seq)
	b := req[nlmsgHdrLen:]
	b[0] = afUnix
	binary.NativeEndian.PutUint32(b[4:], ^uint32(0))    // every state
	binary.NativeEndian.PutUint32(b[8:], uint32(inode)) // udiag_ino
	binary.NativeEndian.PutUint32(b[12:], udiagShowPeer)
	binary.NativeEndian.PutUint64(b[16:], ^uint64(0)) // no cookie: any socket with this inode
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("send unix_diag request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read unix_diag reply: %w", err)
		}
		var peer uint64
		found := false
		err = eachDiagMsg(d.buf[:n], func(body []byte) {
			if len(body) < unixDiagMsgLen || uint64(binary.NativeEndian.Uint32(body[4:])) != inode {
				return
			}
			found = true
			eachAttr(body[unixDiagMsgLen:], func(typ uint16, v []byte) {
				if typ == unixDiagPeer && len(v) >= 4 {
					peer = uint64(binary.NativeEndian.Uint32(v))
				}
			})
		})
		if err != nil && !errors.Is(err, errDumpDone) {
			return 0, err
		}
		if found {
			return peer, nil
		}
		if errors.Is(err, errDumpDone) {
			return 0, fmt.Errorf("unix socket %d: not in pid %d's namespace", inode, pid)
		}
	}
}

// sameNetNS reports whether two namespace files name one namespace.
func sameNetNS(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
