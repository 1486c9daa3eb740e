package sockets

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/internal/netns"

	"golang.org/x/sys/unix"
)

// Where namespaces are kept by bind mounts with no process in them.
var namedNetNSDirs = []string{"/run/netns", "/run/docker/netns"}

// nsTarget is a network namespace found on the system and how to read it.
type nsTarget struct {
	Namespace
	path string // a file that refers to it: /proc/PID/ns/net or a bind mount
	pid  int    // a process living in it, for the /proc/PID/net fallback; 0 if none
	self bool   // the namespace portwarden's reading thread is in
}

// nsDiscovery is every network namespace in use, as far as this user can
// see.
type nsDiscovery struct {
	targets    []nsTarget // the host's first, then by inode
	self       uint64
	unreadable int // processes whose namespace could not be read (not root)
}

// discoverNamespaces finds the network namespaces of every process in pids
// (the distinct /proc/PID/ns/net targets) and those kept by bind mounts:
// the files under /run/netns and Docker's /run/docker/netns, and any nsfs
// mount in mountinfo.
func discoverNamespaces(procRoot string, pids []int32) nsDiscovery {
	var d nsDiscovery
	byIno := map[uint64]*nsTarget{}
	add := func(ino uint64, path string, pid int) *nsTarget {
		t := byIno[ino]
		if t == nil {
			t = &nsTarget{Namespace: Namespace{Inode: ino}, path: path, pid: pid}
			byIno[ino] = t
		}
		return t
	}
	if ino, err := nsInode(procRoot + "/thread-self/ns/net"); err == nil {
		d.self = ino
		add(ino, procRoot+"/thread-self/ns/net", 0).self = true
	}
	host := d.self
	if ino, err := nsInode(procRoot + "/1/ns/net"); err == nil {
		host = ino
	}
	link := make([]byte, 64)
	for _, pid := range pids {
		path := procRoot + "/" + strconv.Itoa(int(pid)) + "/ns/net"
		n, err := unix.Readlink(path, link)
		if err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				d.unreadable++
			}
			continue // vanished, or a kernel thread
		}
		ino, ok := parseNSLink(link[:n])
		if !ok {
			continue
		}
		t := add(ino, path, int(pid))
		if t.pid == 0 {
			t.pid, t.path = int(pid), path
		}
		t.Processes++
		if t.PID == 0 {
			t.PID = int(pid)
		}
	}
	for _, dir := range namedNetNSDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if ino, err := nsInode(path); err == nil && isNetNS(path) {
				if t := add(ino, path, 0); t.Name == "" {
					t.Name = e.Name()
				}
			}
		}
	}
	for _, path := range nsfsMounts(procRoot + "/self/mountinfo") {
		if ino, err := nsInode(path); err == nil && isNetNS(path) {
			// An engine's own netns directory (dockerd --exec-root) names
			// its namespaces as /run/netns does.
			if t := add(ino, path, 0); t.Name == "" && filepath.Base(filepath.Dir(path)) == "netns" {
				t.Name = filepath.Base(path)
			}
		}
	}
	if len(byIno) == 0 {
		// No namespace can be read (a fixture tree, an old kernel): the
		// calling thread's is the one there is.
		add(0, "", 0).self = true
	}
	if t := byIno[host]; t != nil {
		t.Host = true
	} else if host != 0 {
		add(host, procRoot+"/1/ns/net", 1).Host = true
	}
	for _, t := range byIno {
		d.targets = append(d.targets, *t)
	}
	slices.SortFunc(d.targets, func(a, b nsTarget) int {
		if a.Host != b.Host {
			if a.Host {
				return -1
			}
			return 1
		}
		return int(int64(a.Inode) - int64(b.Inode))
	})
	return d
}

// nsInode returns the inode of the namespace a file refers to.
func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// parseNSLink reads "net:[4026531840]".
func parseNSLink(b []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("net:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	ino, err := strconv.ParseUint(string(rest[:len(rest)-1]), 10, 64)
	return ino, err == nil
}

// isNetNS reports whether a namespace file refers to a network namespace.
func isNetNS(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	return err == nil && typ == unix.CLONE_NEWNET
}

// nsfsMounts lists the mount points of nsfs mounts (namespaces bound to a
// file) in a mountinfo file.
func nsfsMounts(mountinfo string) []string {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// "36 35 0:4 net:[4026532281] /run/netns/pwt rw shared:1 - nsfs nsfs rw"
		fields, rest, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(rest, "nsfs ") {
			continue
		}
		if f := strings.Fields(fields); len(f) >= 5 {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// dumper opens a sock_diag socket in the namespace.
func (t nsTarget) dumper() (*netlinkDumper, error) {
	if t.self {
		return newNetlinkDumper()
	}
	return newNetlinkDumperIn(t.path)
}

// procNet is the namespace's /proc/PID/net under procRoot (portwarden's
// own thread's for its own namespace); "" where no process lives in it.
func (t nsTarget) procNet(procRoot string) string {
	switch {
	case t.self:
		return procRoot + "/thread-self/net"
	case t.pid > 0:
		return procRoot + "/" + strconv.Itoa(t.pid) + "/net"
	}
	return ""
}

// newNetlinkDumperIn opens a sock_diag socket inside the namespace path
// refers to. A netlink socket belongs to the namespace it was made in, so
// only its creation happens there.
func newNetlinkDumperIn(path string) (*netlinkDumper, error) {
	var d *netlinkDumper
	err := netns.Do(path, func() (err error) { d, err = newNetlinkDumper(); return err })
	if err != nil && d != nil {
		d.close() // made, but the thread could not come back
		return nil, err
	}
	return d, err
}
