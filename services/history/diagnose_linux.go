package history

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/safetext"
)

// pseudoFilesystems hold no files a database can live in, by statfs type.
var pseudoFilesystems = map[int64]string{
	unix.PROC_SUPER_MAGIC: "procfs", unix.SYSFS_MAGIC: "sysfs", unix.CGROUP2_SUPER_MAGIC: "cgroupfs",
	unix.CGROUP_SUPER_MAGIC: "cgroupfs", unix.DEBUGFS_MAGIC: "debugfs", unix.TRACEFS_MAGIC: "tracefs",
	unix.BPF_FS_MAGIC: "bpffs", unix.DEVPTS_SUPER_MAGIC: "devpts", unix.SECURITYFS_MAGIC: "securityfs",
	unix.NSFS_MAGIC: "nsfs",
}

// whyNot says what keeps the record at path from being opened (writable:
// written): a directory or a device where a file should be, a
// pseudo-filesystem, a read-only filesystem, a permission this user
// lacks — what SQLite would only call "unable to open database file" or
// "attempt to write a readonly database". nil: nothing seen in the way.
func whyNot(path string, writable bool) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("history: %s is a directory, not a database file", path)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("history: %s is not a regular file (%s)", path, fi.Mode().Type())
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("history: %s: permission denied: %s may not reach it (a directory above it is closed to it)", path, who())
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("history: %w", err)
	}
	exists := err == nil
	dir := filepath.Dir(path)
	existing := dir // the nearest directory that exists
	for {
		if st, err := os.Stat(existing); err == nil {
			if !st.IsDir() {
				return fmt.Errorf("history: %s is not a directory, so %s cannot be made in it", existing, path)
			}
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(existing, &fs); err == nil {
		if name, ok := pseudoFilesystems[int64(fs.Type)]; ok {
			return fmt.Errorf("history: %s is on %s, where no database can be kept", path, name)
		}
		if fs.Flags&unix.ST_RDONLY != 0 && (writable || !exists) {
			return fmt.Errorf("history: %s: the filesystem holding %s is mounted read-only", path, existing)
		}
	}
	switch {
	case !exists && !writable:
		return nil // said by the open: there is no record there
	case !exists:
		if unix.Access(existing, unix.W_OK) != nil {
			return fmt.Errorf("history: %s: permission denied: %s may not create files in %s", path, who(), existing)
		}
	case writable:
		if unix.Access(path, unix.W_OK) != nil {
			return fmt.Errorf("history: %s: permission denied: %s may not write it (%s)", path, who(), ownership(fi))
		}
		if unix.Access(dir, unix.W_OK) != nil {
			return fmt.Errorf("history: %s: permission denied: %s may not write its directory %s, where SQLite keeps its -wal and -shm files", path, who(), dir)
		}
	default:
		// Reading a record in WAL mode writes SQLite's shared-memory
		// index (-shm) beside it, or makes one in the directory.
		shm := path + "-shm"
		shmOK := unix.Access(shm, unix.W_OK) == nil
		if _, err := os.Stat(shm); errors.Is(err, os.ErrNotExist) {
			shmOK = unix.Access(dir, unix.W_OK) == nil
		}
		if !shmOK && !readOnlyFS(path) {
			return fmt.Errorf("history: %s: permission denied: reading it needs write access to %s (SQLite's index of its log), which %s lacks: run as root, or as the user the recorder runs as", path, shm, who())
		}
	}
	return nil
}

// readOnlyFS reports whether path lives on a filesystem mounted read-only:
// nothing can write the record there, so it is read as immutable.
func readOnlyFS(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Flags&unix.ST_RDONLY != 0
}

// who names the user this process runs as.
func who() string { return "uid " + strconv.Itoa(os.Geteuid()) }

// ownership says whose a file is and its mode.
func ownership(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("owned by uid %d, mode %04o", st.Uid, fi.Mode().Perm())
	}
	return "mode " + fi.Mode().Perm().String()
}

// LockHolder names the process holding an flock on path ("pid 812
// (portwarden)"), from /proc/locks; "" when none is found.
func LockHolder(path string) string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return ""
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return ""
	}
	want := fmt.Sprintf(":%d", st.Ino)
	// "1: FLOCK  ADVISORY  WRITE 812 08:01:1234 0 EOF"
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || !strings.HasSuffix(f[5], want) {
			continue
		}
		dev := strings.Split(f[5], ":")
		if len(dev) != 3 {
			continue
		}
		major, _ := strconv.ParseUint(dev[0], 16, 32)
		minor, _ := strconv.ParseUint(dev[1], 16, 32)
		if unix.Major(st.Dev) != uint32(major) || unix.Minor(st.Dev) != uint32(minor) {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + f[4] + "/comm")
		return "pid " + f[4] + " (" + safetext.Visible(strings.TrimSpace(string(comm))) + ")"
	}
	return ""
}

// Free is how many bytes the filesystem holding the record has free for
// this user, and its size; ok is false when statfs cannot say.
func (d *DB) Free() (free, size int64, ok bool) {
	var fs unix.Statfs_t
	if unix.Statfs(filepath.Dir(d.path), &fs) != nil {
		return 0, 0, false
	}
	return int64(fs.Bavail) * fs.Bsize, int64(fs.Blocks) * fs.Bsize, true
}
