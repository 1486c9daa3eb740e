package sockets

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readHeldFilters asks the kernel, through a holder's descriptor, for the
// filters sock_diag did not give: raw_diag never reports one, and the
// /proc/net fallback neither. It borrows the descriptor (pidfd_getfd,
// Linux 5.6, root) for one getsockopt(SO_GET_FILTER) and closes it; the
// holder is not disturbed. A filter that cannot be read stays unread.
func readHeldFilters(procRoot string, raws []RawSocket) {
	if procRoot != "/proc" {
		return // a fixture's processes are not this kernel's
	}
	for i := range raws {
		r := &raws[i]
		if r.FilterState != FilterUnread || len(r.Processes) == 0 {
			continue
		}
		r.Filter, r.FilterState, _ = heldFilter(procRoot, r)
	}
}

// heldFilter reads the filter of r through its first holder's
// descriptor for it — and, for a raw socket read from /proc/net, which
// does not tell, the interface it is bound to (SO_BINDTOIFINDEX).
func heldFilter(procRoot string, r *RawSocket) ([]FilterInstruction, FilterState, error) {
	pid, inode := r.Processes[0].PID, r.Inode
	fd, err := fdOf(procRoot, pid, inode)
	if err != nil {
		return nil, FilterUnread, err
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, FilterUnread, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	sock, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil, FilterUnread, fmt.Errorf("pidfd_getfd %d/%d: %w", pid, fd, err)
	}
	defer unix.Close(sock)
	if !sameInode(sock, inode) {
		return nil, FilterUnread, errors.New("the descriptor was reused")
	}
	if r.Kind == IPSocket && r.Ifindex == 0 {
		if n, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX); err == nil && n != 0 {
			r.Ifindex = n
			r.Interface, _ = unix.GetsockoptString(sock, unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		}
	}
	n, err := getFilter(sock, nil)
	switch {
	case errors.Is(err, unix.EACCES):
		return nil, FilterEBPF, nil
	case err != nil:
		return nil, FilterUnread, err
	case n == 0:
		return nil, FilterNone, nil
	}
	prog := make([]FilterInstruction, n)
	if n, err = getFilter(sock, prog); err != nil {
		return nil, FilterUnread, err
	}
	return prog[:n], FilterAttached, nil
}

// getFilter is getsockopt(SO_GET_FILTER): with no room, the number of
// instructions attached; else the instructions, into prog.
func getFilter(fd int, prog []FilterInstruction) (int, error) {
	n := uint32(len(prog))
	var p unsafe.Pointer
	if len(prog) > 0 {
		p = unsafe.Pointer(&prog[0])
	}
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_GET_FILTER,
		uintptr(p), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// fdOf finds the descriptor through which process pid holds socket inode.
func fdOf(procRoot string, pid int, inode uint64) (int, error) {
	dir := procRoot + "/" + strconv.Itoa(pid) + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	for _, e := range entries {
		if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == want {
			return strconv.Atoi(e.Name())
		}
	}
	return 0, fmt.Errorf("pid %d no longer holds socket %d", pid, inode)
}

// sameInode reports whether descriptor fd is the socket inode.
func sameInode(fd int, inode uint64) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Ino == inode
}
