package sockets

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ownerHit records that a process holds the socket at an index of the
// snapshot's socket slice.
type ownerHit struct {
	socket int32
	pid    int32
}

// walkResult is what one walk of /proc/*/fd found.
type walkResult struct {
	hits       []ownerHit
	unreadable []int // PIDs whose fd directory could not be read
	vanished   int   // processes that exited during the walk
}

// match tells whether a socket inode is one a walk looks for, and its
// index in the snapshot's socket slice.
type match func(inode uint64) (int32, bool)

// inMap matches the inodes of want (inode → socket index).
func inMap(want map[uint64]int32) match {
	return func(inode uint64) (int32, bool) { i, ok := want[inode]; return i, ok }
}

// walkOwners reads the fd directory of each of pids once and reports, for
// each fd that is a socket want matches, the holding PID.
// This is the single pass that replaces a per-socket search: its cost is
// one readlink per open fd, whatever the number of sockets. The PIDs are
// split between a few workers, one per CPU.
func walkOwners(procRoot string, pids []int32, want match) walkResult {
	if len(pids) == 0 {
		return walkResult{}
	}
	workers := min(runtime.GOMAXPROCS(0), 4, max(1, len(pids)/16))
	results := make([]walkResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := newFdWalker(procRoot, want)
			for i := w; i < len(pids); i += workers {
				wk.walk(pids[i])
			}
			results[w] = wk.res
		}()
	}
	wg.Wait()
	var all walkResult
	for _, r := range results {
		all.hits = append(all.hits, r.hits...)
		all.unreadable = append(all.unreadable, r.unreadable...)
		all.vanished += r.vanished
	}
	return all
}

// listPIDs returns the numeric entries of procRoot.
func listPIDs(procRoot string) ([]int32, error) {
	fd, err := unix.Open(procRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: procRoot, Err: err}
	}
	defer unix.Close(fd)
	var pids []int32
	buf := make([]byte, 32<<10)
	err = readDirNames(fd, buf, func(name []byte) {
		if pid, ok := parsePID(name); ok {
			pids = append(pids, pid)
		}
	})
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: procRoot, Err: err}
	}
	return pids, nil
}

// fdWalker holds one worker's reusable buffers.
type fdWalker struct {
	procRoot string
	want     match
	dirBuf   []byte
	linkBuf  []byte
	path     []byte
	res      walkResult
}

func newFdWalker(procRoot string, want match) *fdWalker {
	return &fdWalker{
		procRoot: procRoot,
		want:     want,
		dirBuf:   make([]byte, 32<<10),
		linkBuf:  make([]byte, 64),
	}
}

var socketLinkPrefix = []byte("socket:[")

func (w *fdWalker) walk(pid int32) {
	w.path = append(w.path[:0], w.procRoot...)
	w.path = append(w.path, '/')
	w.path = strconv.AppendInt(w.path, int64(pid), 10)
	w.path = append(w.path, "/fd"...)
	dir, err := unix.Open(string(w.path), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
			w.res.vanished++
		default:
			w.res.unreadable = append(w.res.unreadable, int(pid))
		}
		return
	}
	defer unix.Close(dir)
	denied := false
	err = readDirNames(dir, w.dirBuf, func(name []byte) {
		// name is NUL-terminated inside dirBuf, so it goes to the kernel
		// as it is: no allocation per fd.
		n, err := readlinkat(dir, name, w.linkBuf)
		if err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				denied = true
			}
			return
		}
		if !bytes.HasPrefix(w.linkBuf[:n], socketLinkPrefix) {
			return
		}
		link := w.linkBuf[len(socketLinkPrefix):n]
		if len(link) < 2 || link[len(link)-1] != ']' {
			return
		}
		inode, err := strconv.ParseUint(unsafe.String(&link[0], len(link)-1), 10, 64)
		if err != nil {
			return
		}
		if idx, ok := w.want(inode); ok {
			w.res.hits = append(w.res.hits, ownerHit{socket: idx, pid: pid})
		}
	})
	if denied || (err != nil && !errors.Is(err, unix.ENOENT)) {
		w.res.unreadable = append(w.res.unreadable, int(pid))
	}
}

// readDirNames calls fn with each entry name of the open directory fd but
// "." and "..". Each name slice is followed by a NUL in buf and is valid
// only during the call.
func readDirNames(fd int, buf []byte, fn func(name []byte)) error {
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino u64, off u64, reclen u16, type u8, name.
		for off := 0; off+19 < n; {
			reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
			if reclen == 0 || off+reclen > n {
				break
			}
			name := buf[off+19 : off+reclen]
			if end := bytes.IndexByte(name, 0); end >= 0 {
				name = name[:end]
			}
			if !(len(name) == 1 && name[0] == '.') && !(len(name) == 2 && name[0] == '.' && name[1] == '.') && len(name) > 0 {
				fn(name)
			}
			off += reclen
		}
	}
}

// readlinkat reads the link name (NUL-terminated in its backing array) in
// directory dirfd into buf without allocating.
func readlinkat(dirfd int, name []byte, buf []byte) (int, error) {
	ptr := unsafe.Pointer(unsafe.SliceData(name))
	r, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(ptr),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func parsePID(name []byte) (int32, bool) {
	if len(name) == 0 || len(name) > 9 {
		return 0, false
	}
	var pid int32
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0, false
		}
		pid = pid*10 + int32(c-'0')
	}
	return pid, pid > 0
}
