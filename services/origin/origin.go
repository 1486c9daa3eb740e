// Package origin tells how a process was started: the systemd unit that
// runs it, read from its control group.
package origin

import (
	"os"
	"path"
	"strconv"
	"strings"
)

// SystemdRunning reports whether systemd manages this system, the way
// systemd's own sd_booted() decides: /run/systemd/system exists.
func SystemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// Unit returns the systemd unit a cgroup path belongs to
// ("/system.slice/nginx.service" → "nginx.service"), the innermost
// .service, .socket or .scope, or "" when there is none. Call it only when
// SystemdRunning: a cgroup path that merely looks like a unit means nothing
// where systemd does not run.
func Unit(cgroup string) string {
	for p := cgroup; p != "/" && p != "." && p != ""; p = path.Dir(p) {
		base := path.Base(p)
		for _, suffix := range []string{".service", ".socket", ".scope"} {
			if strings.HasSuffix(base, suffix) {
				return base
			}
		}
	}
	return ""
}

// ManagedUnit is Unit where systemd manages the system, else "": the unit
// of a process as portwarden names it everywhere.
func ManagedUnit(cgroup string) string {
	if !SystemdRunning() {
		return ""
	}
	return Unit(cgroup)
}

// Ancestor is one process in a parent chain.
type Ancestor struct {
	PID  int
	Name string
}

// Info says how a process came to run.
type Info struct {
	Parents []Ancestor // parent first, up to PID 1
	Unit    string     // systemd unit, "" when none or systemd does not run
	Inetd   string     // "xinetd (pid 640)" when an inetd-style super-server spawned it
}

// Describe reads the parent chain of a process from procRoot (normally
// "/proc") and names the systemd unit or super-server that started it.
// Processes that vanish mid-walk end the chain; nothing here fails.
func Describe(procRoot string, pid, ppid int, cgroup string) Info {
	info := Info{Unit: ManagedUnit(cgroup)}
	seen := map[int]bool{pid: true}
	for p := ppid; p > 0 && !seen[p] && len(info.Parents) < 32; {
		seen[p] = true
		name, next, ok := readStat(procRoot, p)
		if !ok {
			break
		}
		info.Parents = append(info.Parents, Ancestor{PID: p, Name: name})
		if info.Inetd == "" && len(info.Parents) == 1 && isSuperServer(name) {
			info.Inetd = name + " (pid " + itoa(p) + ")"
		}
		p = next
	}
	return info
}

func isSuperServer(name string) bool {
	switch name {
	case "inetd", "xinetd", "openbsd-inetd", "inetutils-inetd":
		return true
	}
	return false
}

// readStat returns comm and ppid from /proc/PID/stat.
func readStat(procRoot string, pid int) (name string, ppid int, ok bool) {
	b, err := os.ReadFile(procRoot + "/" + itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, false
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	pp, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, false
	}
	return s[open+1 : closing], pp, true
}

func itoa(i int) string { return strconv.Itoa(i) }
