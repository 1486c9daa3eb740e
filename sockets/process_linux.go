package sockets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of /proc/PID/stat times: USER_HZ is 100 on every Linux
// architecture Go supports.
const userHZ = 100

// maxCmdline bounds how much of /proc/PID/cmdline is kept.
const maxCmdline = 64 << 10

// processCache reads process details once per (PID, start time) and keeps
// them across collections; a recycled PID has another start time and is
// read afresh.
type processCache struct {
	procRoot string
	bootTime time.Time
	byPID    map[int]*Process
	users    map[uint32]string
}

func newProcessCache(procRoot string) *processCache {
	return &processCache{
		procRoot: procRoot,
		bootTime: readBootTime(procRoot),
		byPID:    make(map[int]*Process),
		users:    make(map[uint32]string),
	}
}

// lookup returns the process with this PID, reading /proc/PID/stat to check
// that the cached entry is still the same process.
func (c *processCache) lookup(pid int) (*Process, error) {
	stat, err := os.ReadFile(c.procRoot + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	name, ppid, start, err := parseProcStat(stat)
	if err != nil {
		return nil, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	if p, ok := c.byPID[pid]; ok && p.StartTicks == start {
		return p, nil
	}
	dir := c.procRoot + "/" + strconv.Itoa(pid)
	p := &Process{
		PID:        pid,
		PPID:       ppid,
		Name:       name,
		StartTicks: start,
		Start:      c.bootTime.Add(time.Duration(start) * time.Second / userHZ),
	}
	p.Exe, _ = os.Readlink(dir + "/exe")
	p.Cmdline = readCmdline(dir + "/cmdline")
	if uid, err := readEffectiveUID(dir + "/status"); err == nil {
		p.UID = uid
	} else if st, err := os.Stat(dir); err == nil {
		p.UID = fileOwner(st)
	} else {
		// Gone between the reads: no user is known, and root is no
		// default to fill in.
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	p.User = c.userName(p.UID)
	p.Cgroup = readCgroup(dir + "/cgroup")
	c.byPID[pid] = p
	return p, nil
}

// prune forgets processes not in keep, so the cache holds only live owners.
func (c *processCache) prune(keep map[int]*Process) {
	for pid := range c.byPID {
		if _, ok := keep[pid]; !ok {
			delete(c.byPID, pid)
		}
	}
}

func (c *processCache) userName(uid uint32) string {
	if name, ok := c.users[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	c.users[uid] = name
	return name
}

// parseProcStat extracts comm, ppid and starttime from /proc/PID/stat:
// "pid (comm) state ppid ... starttime(22nd field) ...". comm may itself
// hold spaces and parentheses, so it ends at the last ')'.
func parseProcStat(b []byte) (name string, ppid int, start uint64, err error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return "", 0, 0, errors.New("no command name")
	}
	name = string(b[open+1 : closing])
	fields := bytes.Fields(b[closing+1:])
	// fields[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(fields) < 20 {
		return "", 0, 0, errors.New("too few fields")
	}
	pp, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return "", 0, 0, fmt.Errorf("ppid: %w", err)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return "", 0, 0, fmt.Errorf("starttime: %w", err)
	}
	return name, pp, start, nil
}

func readCmdline(path string) []string {
	b, err := readLimited(path, maxCmdline)
	if err != nil || len(b) == 0 {
		return nil
	}
	b = bytes.TrimRight(b, "\x00")
	parts := bytes.Split(b, []byte{0})
	args := make([]string, len(parts))
	for i, p := range parts {
		args[i] = string(p)
	}
	return args
}

// readCgroup returns the path of the unified hierarchy ("0::/path"), or of
// ReadCgroup returns the control group of process pid ("" when it cannot
// be read), as Process.Cgroup has it.
func ReadCgroup(pid int) string {
	cg := readCgroup("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if cg == "/" {
		return ""
	}
	return cg
}

// systemd's named hierarchy on a v1 host.
func readCgroup(path string) string {
	b, err := readLimited(path, 16<<10)
	if err != nil {
		return ""
	}
	var named string
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if rest, ok := bytes.CutPrefix(line, []byte("0::")); ok && !bytes.Equal(rest, []byte("/")) {
			return string(rest)
		}
		if _, rest, ok := bytes.Cut(line, []byte(":name=systemd:")); ok {
			named = string(rest)
		}
	}
	if named == "" {
		return "/"
	}
	return named
}

func readEffectiveUID(path string) (uint32, error) {
	b, err := readLimited(path, 16<<10)
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			f := bytes.Fields(rest)
			if len(f) < 2 {
				break
			}
			uid, err := strconv.ParseUint(string(f[1]), 10, 32)
			return uint32(uid), err
		}
	}
	return 0, errors.New("no Uid line")
}

func readBootTime(procRoot string) time.Time {
	b, err := readLimited(procRoot+"/stat", 1<<20)
	if err != nil {
		return time.Time{}
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			if sec, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64); err == nil {
				return time.Unix(sec, 0)
			}
		}
	}
	return time.Time{}
}

// readLimited reads at most limit bytes of a file.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// fileOwner returns the owning UID of a file.
func fileOwner(fi os.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return 0
}

// ProcessReader reads single processes from /proc, each read once per
// process start (PID and start time). It is not safe for concurrent use.
type ProcessReader struct{ cache *processCache }

// NewProcessReader reads processes under procRoot ("/proc").
func NewProcessReader(procRoot string) *ProcessReader {
	return &ProcessReader{cache: newProcessCache(procRoot)}
}

// Lookup returns the process with this PID; an error when it is gone or
// cannot be read. The cache forgets everything past 4,096 processes.
func (r *ProcessReader) Lookup(pid int) (*Process, error) {
	if len(r.cache.byPID) > 4096 {
		r.cache.prune(nil)
	}
	return r.cache.lookup(pid)
}
