package recorder

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cgroupPaths finds a cgroup (v2) by the ID the kernel gives events — the
// inode of its directory — and names it by its path ("/system.slice/
// ssh.service"), for the owner of a process gone before it was read.
type cgroupPaths struct {
	root   string            // where cgroup2 is mounted; "" when it is not
	byID   map[uint64]string // paths by ID, as last walked
	walked time.Time
}

// walkEvery bounds how often a miss walks the hierarchy again.
const walkEvery = 5 * time.Second

func newCgroupPaths() *cgroupPaths {
	return &cgroupPaths{root: cgroup2Mount(), byID: map[uint64]string{}}
}

// path returns cgroup id's path, walking the hierarchy again on a miss
// (at most every walkEvery, at most 20,000 directories).
func (c *cgroupPaths) path(id uint64) (string, bool) {
	if id == 0 || c.root == "" {
		return "", false
	}
	if p, ok := c.byID[id]; ok {
		return p, true
	}
	if time.Since(c.walked) < walkEvery {
		return "", false
	}
	c.walked = time.Now()
	clear(c.byID)
	seen := 0
	filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if seen++; seen > 20000 {
			return filepath.SkipAll
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				c.byID[st.Ino] = "/" + strings.TrimPrefix(strings.TrimPrefix(p, c.root), "/")
			}
		}
		return nil
	})
	p, ok := c.byID[id]
	return p, ok
}

// cgroup2Mount is where the unified (v2) hierarchy is mounted: the
// events' cgroup IDs are its. Inside a cgroup namespace (a container, a
// systemd of its own) the mount of the namespace's own root is preferred
// to one inherited from outside it (root "/.."): its paths are the ones
// the namespace's systemd names units by.
func cgroup2Mount() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	found := ""
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && f[i+1] == "cgroup2" && len(f) > 4 {
				if f[3] == "/" {
					return f[4]
				}
				if found == "" {
					found = f[4]
				}
			}
		}
	}
	return found
}
