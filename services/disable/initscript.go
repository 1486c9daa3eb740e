package disable

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/sockets"
)

// An init script's evidence is its pidfile: the file holding the PID of
// the daemon (or of its parent, for a master and its workers) that the
// script started. Nothing is guessed from names alone.

// pidfileDirs are where daemons leave pidfiles (/var/run is /run on
// current systems, a directory of its own on old ones).
var pidfileDirs = [...]string{"run", "var/run"}

// planInitScript plans to stop and disable the init script that started
// the daemon holding s: OpenRC where OpenRC runs, else SysV links managed
// by update-rc.d (Debian) or chkconfig (Red Hat). It returns nil, nil when
// no pidfile ties the socket to a script.
func planInitScript(env Env, s *sockets.Socket) (*Plan, error) {
	// The holders and their parents (a master's pidfile covers its
	// workers), never further up: a daemon started by hand in an SSH
	// session has sshd, whose pidfile /etc/init.d/ssh names, among its
	// ancestors.
	pids := map[int]bool{}
	for _, p := range s.Processes {
		pids[p.PID] = true
		if p.PPID > 1 {
			pids[p.PPID] = true
		}
	}
	openrc := openrcRunning(env)
	if openrc {
		if name, pidfile := openrcService(env, pids); name != "" {
			return planOpenRC(name, pidfile), nil
		}
	}
	pidfile := findPidfile(env, pids)
	if pidfile == "" {
		return nil, nil
	}
	script := scriptForPidfile(env, pidfile)
	if script == "" {
		return nil, nil
	}
	name := filepath.Base(script)
	if openrc {
		return planOpenRC(name, pidfile), nil
	}
	return planSysV(name, pidfile)
}

func (env Env) root(path string) string {
	if env.Root == "" {
		return "/" + path
	}
	return filepath.Join(env.Root, path)
}

// findPidfile returns a pidfile under /run or /var/run holding one of pids.
func findPidfile(env Env, pids map[int]bool) string {
	for _, dir := range pidfileDirs {
		for _, pattern := range []string{"*.pid", "*/*.pid"} {
			matches, _ := filepath.Glob(filepath.Join(env.root(dir), pattern))
			for _, m := range matches {
				if pids[readPidfile(m)] {
					rel, _ := filepath.Rel(env.root(dir), m)
					return "/" + dir + "/" + rel
				}
			}
		}
	}
	return ""
}

// readPidfile returns the PID a pidfile holds, 0 when it holds none. Only
// regular files are read: a FIFO named x.pid (in /run/user, say) would
// block the open forever.
func readPidfile(path string) int {
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	buf := make([]byte, 32)
	n, _ := f.Read(buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// assignment matches a shell variable set to a plain value: PIDFILE=/run/x.pid.
var assignment = regexp.MustCompile(`(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)=["']?([^"'\s;]*)["']?\s*$`)

// scriptForPidfile finds the script in /etc/init.d that names pidfile,
// after expanding the plain variables it sets (NAME=, PIDFILE=) and
// OpenRC's RC_SVCNAME.
func scriptForPidfile(env Env, pidfile string) string {
	entries, err := os.ReadDir(env.root("etc/init.d"))
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(env.root("etc/init.d"), e.Name())
		b, err := readLimited(path, 256<<10)
		if err != nil {
			continue
		}
		vars := map[string]string{"RC_SVCNAME": e.Name(), "SVCNAME": e.Name()}
		for _, m := range assignment.FindAllStringSubmatch(string(b), -1) {
			vars[m[1]] = os.Expand(m[2], func(k string) string { return vars[k] })
		}
		if strings.Contains(os.Expand(string(b), func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return "${" + k + "}"
		}), pidfile) {
			return "/etc/init.d/" + e.Name()
		}
	}
	return ""
}

// readLimited reads at most limit bytes of a file: scripts and records
// are small, and a huge or endless file must not stall the dashboard.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// planSysV stops the service through its script and removes its start
// links from the runlevels.
func planSysV(name, pidfile string) (*Plan, error) {
	var disableArgs []string
	switch {
	case haveCommand("update-rc.d"):
		disableArgs = []string{"update-rc.d", name, "disable"}
	case haveCommand("chkconfig"):
		disableArgs = []string{"chkconfig", name, "off"}
	default:
		return nil, &Unsupported{fmt.Sprintf("the init script /etc/init.d/%s started it (its pidfile %s), but neither update-rc.d nor chkconfig is here to disable it", name, pidfile)}
	}
	stopArgs := []string{"service", name, "stop"}
	if !haveCommand("service") {
		stopArgs = []string{"/etc/init.d/" + name, "stop"}
	}
	p := &Plan{Manager: "sysv", Service: name}
	p.Steps = append(p.Steps,
		commandStep(fmt.Sprintf("stop %s with its init script, which started it (pidfile %s)", name, pidfile), stopArgs),
		commandStep(fmt.Sprintf("disable %s so it does not start at boot (its S links in /etc/rc?.d become K links)", name), disableArgs))
	return p, nil
}

// planOpenRC stops the service and removes it from every runlevel.
func planOpenRC(name, pidfile string) *Plan {
	p := &Plan{Manager: "openrc", Service: name}
	p.Steps = append(p.Steps,
		commandStep(fmt.Sprintf("stop %s (pidfile %s)", name, pidfile), []string{"rc-service", name, "stop"}),
		commandStep(fmt.Sprintf("remove %s from every runlevel so it does not start at boot", name), []string{"rc-update", "--all", "delete", name}))
	return p
}

// openrcRunning reports whether OpenRC manages this system.
func openrcRunning(env Env) bool {
	_, err := os.Stat(env.root("run/openrc/softlevel"))
	return err == nil
}

// openrcService reads OpenRC's record of the daemons it started
// (/run/openrc/daemons/NAME/NNN: exec=, pidfile=, …) for one whose
// pidfile holds one of pids.
func openrcService(env Env, pids map[int]bool) (name, pidfile string) {
	records, _ := filepath.Glob(filepath.Join(env.root("run/openrc/daemons"), "*", "*"))
	for _, rec := range records {
		b, err := readLimited(rec, 16<<10)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "pidfile="); ok && v != "" {
				if pids[readPidfile(env.root(strings.TrimPrefix(v, "/")))] {
					return filepath.Base(filepath.Dir(rec)), v
				}
			}
		}
	}
	return "", ""
}

func haveCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// commandStep runs a command with an argument vector, never a shell, and
// shows it as the admin would type it.
func commandStep(describe string, argv []string) Step {
	return Step{Describe: describe + " (" + strings.Join(argv, " ") + ")", run: func() error {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}}
}
