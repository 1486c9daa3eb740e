//go:build linux

package sockettest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// boxTarget is the target the box boots: nothing but what tests enable.
// Debian's multi-user.target would pull in sysinit.target, whose tmpfiles
// rules empty the /tmp the box shares with the host.
const boxTarget = "portwarden-box.target"

const boxDirEnv = "PORTWARDEN_SOCKETTEST_BOXDIR"

// boxMasked are the units the box can never start: they act on what the
// box shares with the host. sysinit.target's tmpfiles rules empty /tmp,
// journald and utmp write to /var/log, modules-load and swap act on the
// kernel. A unit with default dependencies requires sysinit.target and so
// fails to start, loudly, instead of booting them.
var boxMasked = [...]string{
	"sysinit.target", "local-fs.target", "swap.target", "timers.target", "getty.target",
	"systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service",
	"systemd-tmpfiles-clean.service", "systemd-tmpfiles-clean.timer",
	"systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket",
	"systemd-journald-audit.socket", "systemd-journal-flush.service",
	"systemd-update-utmp.service", "systemd-update-utmp-runlevel.service",
	"systemd-modules-load.service", "systemd-sysctl.service", "systemd-binfmt.service",
	"systemd-random-seed.service", "systemd-remount-fs.service", "kmod-static-nodes.service",
	"systemd-machine-id-commit.service", "syslog.socket", "rsyslog.service",
}

// SystemdBox is a real systemd booted as PID 1 of fresh PID, mount,
// network, UTS, IPC and cgroup namespaces, isolated from the host as
// shared/TESTBEDS.md requires: a private /run, private copies of
// /etc/systemd/system, /lib/systemd/system, /etc/init.d and /etc/rc?.d, its own cgroup
// under the test's own,
// /sys and /proc/sys read-only, and /dev/console a file. Units it runs are
// real; their sockets live in the box's own network namespace.
type SystemdBox struct {
	// Units is the host directory that is the box's /lib/systemd/system,
	// where packages install units; EtcUnits is its /etc/systemd/system;
	// InitD its /etc/init.d.
	Units, EtcUnits, InitD string
	dir                    string
	cgroup                 string // the box's cgroup directory on the host
	cmd                    *exec.Cmd
}

// StartSystemd boots systemd in a box whose files live under dir, with the
// given unit files (name → text) installed in its /lib/systemd/system, and
// returns once systemd reports it is running.
func StartSystemd(dir string, units map[string]string) (*SystemdBox, error) {
	bin := systemdBinary()
	if bin == "" {
		return nil, errors.New("systemd is required (scripts/test.sh installs it)")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("booting systemd in namespaces needs root")
	}
	b := &SystemdBox{Units: filepath.Join(dir, "lib-systemd-system"), EtcUnits: filepath.Join(dir, "etc-systemd-system"),
		InitD: filepath.Join(dir, "etc-init.d"), dir: dir}
	if err := b.prepare(units); err != nil {
		return nil, err
	}
	parent, err := ownCgroup2()
	if err != nil {
		return nil, err
	}
	b.cgroup = filepath.Join(parent, fmt.Sprintf("portwarden-box-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(b.cgroup, 0o755); err != nil {
		return nil, fmt.Errorf("box cgroup: %w", err)
	}
	cg, err := os.Open(b.cgroup)
	if err != nil {
		b.removeCgroup()
		return nil, err
	}
	defer cg.Close()
	exe, err := os.Executable()
	if err != nil {
		b.removeCgroup()
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "box.log"))
	if err != nil {
		b.removeCgroup()
		return nil, err
	}
	defer log.Close()
	b.cmd = exec.Command(exe)
	b.cmd.Env = append(os.Environ(), roleEnv+"=systemd-box", boxDirEnv+"="+dir)
	b.cmd.Stdout, b.cmd.Stderr = log, log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWCGROUP,
		// Born inside the box's cgroup, so the new cgroup namespace is
		// rooted there and systemd's hierarchy is a child of ours.
		UseCgroupFD: true,
		CgroupFD:    int(cg.Fd()),
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := b.cmd.Start(); err != nil {
		b.removeCgroup()
		return nil, fmt.Errorf("start the box: %w", err)
	}
	var state string
	running := WaitFor(60*time.Second, func() bool {
		out, _ := b.Command("systemctl", "is-system-running").Output()
		state = strings.TrimSpace(string(out))
		return state == "running" || state == "degraded" || !Running(b.PID())
	})
	if !running || !Running(b.PID()) {
		logText, _ := os.ReadFile(filepath.Join(dir, "box.log"))
		console, _ := os.ReadFile(filepath.Join(dir, "console"))
		b.Stop()
		return nil, fmt.Errorf("systemd did not come up (state %q)\nlog:\n%s\nconsole:\n%s", state, logText, console)
	}
	return b, nil
}

// PID is the box's systemd, as the host numbers it.
func (b *SystemdBox) PID() int { return b.cmd.Process.Pid }

// Command runs a program inside the box: its namespaces, its /proc, its
// systemd. Arguments go as a vector through nsenter, never a shell.
func (b *SystemdBox) Command(name string, args ...string) *exec.Cmd {
	ns := []string{"--target", strconv.Itoa(b.PID()), "--mount", "--pid", "--net", "--uts", "--ipc", "--cgroup", "--", name}
	return exec.Command("nsenter", append(ns, args...)...)
}

// Systemctl runs systemctl in the box and returns its trimmed output.
func (b *SystemdBox) Systemctl(args ...string) (string, error) {
	out, err := b.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// boxSentinel is a file in the box's directory (under the host's /tmp)
// that the box must not remove.
const boxSentinel = "sentinel"

// Stop kills the box (its systemd and, with it, every process of its PID
// namespace) by the recorded PID and removes its cgroup. It reports an
// error when the box touched what it shares with the host: the sentinel
// it left in the host's /tmp is gone.
func (b *SystemdBox) Stop() error {
	if b.cmd != nil && b.cmd.Process != nil {
		// cgroup.kill reaches every process of the box at once.
		os.WriteFile(filepath.Join(b.cgroup, "cgroup.kill"), []byte("1"), 0)
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
	b.removeCgroup()
	if _, err := os.Stat(filepath.Join(b.dir, boxSentinel)); err != nil {
		return fmt.Errorf("the box removed %s from the host's %s: did a unit pull in sysinit.target? %w", boxSentinel, b.dir, err)
	}
	return nil
}

// removeCgroup waits for the box's cgroup to empty, then removes it,
// deepest first.
func (b *SystemdBox) removeCgroup() {
	WaitFor(10*time.Second, func() bool {
		ev, err := os.ReadFile(filepath.Join(b.cgroup, "cgroup.events"))
		return err != nil || bytes.Contains(ev, []byte("populated 0"))
	})
	var dirs []string
	filepath.WalkDir(b.cgroup, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}

// privateDirs maps each host directory the box gets a private copy of to
// the copy's name under the box's directory.
func privateDirs() map[string]string {
	dirs := map[string]string{
		"/etc/systemd/system": "etc-systemd-system",
		"/lib/systemd/system": "lib-systemd-system",
		"/etc/init.d":         "etc-init.d",
	}
	for _, level := range "0123456S" {
		rc := "/etc/rc" + string(level) + ".d"
		dirs[rc] = "etc-" + filepath.Base(rc)
	}
	return dirs
}

// prepare makes the box's private copies and its console file under dir.
func (b *SystemdBox) prepare(units map[string]string) error {
	for from, name := range privateDirs() {
		to := filepath.Join(b.dir, name)
		if err := os.MkdirAll(to, 0o755); err != nil {
			return err
		}
		if _, err := os.Stat(from); err != nil {
			continue
		}
		// cp keeps the enablement symlinks as symlinks.
		if out, err := exec.Command("cp", "-a", "--", from+"/.", to).CombinedOutput(); err != nil {
			return fmt.Errorf("copy %s: %v: %s", from, err, out)
		}
	}
	for _, name := range boxMasked {
		link := filepath.Join(b.EtcUnits, name)
		if err := os.RemoveAll(link); err != nil {
			return err
		}
		if err := os.Symlink("/dev/null", link); err != nil {
			return err
		}
	}
	all := map[string]string{boxTarget: "[Unit]\nDescription=portwarden test box\nDefaultDependencies=no\n"}
	maps.Copy(all, units)
	for name, text := range all {
		if err := os.WriteFile(filepath.Join(b.Units, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	// The sentinel proves, at Stop, that the host's /tmp was left alone.
	if err := os.WriteFile(filepath.Join(b.dir, boxSentinel), nil, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.dir, "console"), nil, 0o644)
}

func systemdBinary() string {
	for _, p := range []string{"/lib/systemd/systemd", "/usr/lib/systemd/systemd"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// ownCgroup2 returns the directory of this process's cgroup in the unified
// (v2) hierarchy: /sys/fs/cgroup/... on a v2 host, /sys/fs/cgroup/unified/...
// on a hybrid one.
func ownCgroup2() (string, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return filepath.Join(mount, rest), nil
		}
	}
	return "", errors.New("this process has no cgroup v2 membership")
}

func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return f[4], nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy is mounted")
}

// runBoxInit is the box's PID 1 before it becomes systemd: it isolates the
// mount namespace, then execs systemd.
func runBoxInit() error {
	dir := os.Getenv(boxDirEnv)
	type mnt struct {
		source, target, fstype string
		flags                  uintptr
		data                   string
	}
	mounts := []mnt{
		{"", "/", "", unix.MS_REC | unix.MS_PRIVATE, ""},
		{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=755"},
		{"tmpfs", "/var/lib/systemd", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=755"},
		{"tmpfs", "/var/log/journal", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=755"},
		{"sysfs", "/sys", "sysfs", unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"/proc/sys", "/proc/sys", "", unix.MS_BIND, ""},
		{"", "/proc/sys", "", unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY, ""},
		{filepath.Join(dir, "console"), "/dev/console", "", unix.MS_BIND, ""},
	}
	for target, name := range privateDirs() {
		if _, err := os.Stat(target); err == nil {
			mounts = append(mounts, mnt{filepath.Join(dir, name), target, "", unix.MS_BIND, ""})
		}
	}
	for _, m := range mounts {
		if _, err := os.Stat(m.target); errors.Is(err, os.ErrNotExist) && m.fstype == "tmpfs" {
			continue // nothing of the host's there to hide
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.source, m.target, err)
		}
	}
	if err := unix.Sethostname([]byte("portwarden-box")); err != nil {
		return err
	}
	bin := systemdBinary()
	env := []string{"container=portwarden-test", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	return unix.Exec(bin, []string{bin, "--system", "--unit=" + boxTarget, "--show-status=no"}, env)
}
