package disable

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// inSysVEnv carries, to the test binary started in fresh namespaces, the
// directory holding its private copies of /etc/rc?.d.
const inSysVEnv = "PORTWARDEN_TEST_IN_SYSV_NAMESPACE"

// sysvPrivate are the host directories the SysV test works on private
// copies of: update-rc.d edits the runlevel links and, where systemctl is
// installed, the systemd links too (systemctl --root=/ disable NAME).
var sysvPrivate = []string{
	"/etc/rc0.d", "/etc/rc1.d", "/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d", "/etc/rc5.d", "/etc/rc6.d", "/etc/rcS.d",
	"/etc/systemd/system", "/var/lib/systemd",
}

// privateName is the copy of a host directory under the test's directory.
func privateName(dir, host string) string {
	return filepath.Join(dir, strings.ReplaceAll(strings.Trim(host, "/"), "/", "-"))
}

// tree lists every path under dir with its symlink target, to tell
// whether anything changed.
func tree(dir string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		target, _ := os.Readlink(path)
		fmt.Fprintf(&b, "%s -> %s\n", path, target)
		return nil
	})
	return b.String()
}

// TestDisableSysVInitScript starts Debian's own /etc/init.d/ssh, which
// starts a real sshd, in mount and network namespaces of its own, and
// disables it with update-rc.d on private copies of /etc/rc?.d (and of the
// systemd links update-rc.d also edits).
func TestDisableSysVInitScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("namespaces need root")
	}
	for _, need := range []string{"/etc/init.d/ssh", "/usr/sbin/sshd"} {
		if _, err := os.Stat(need); err != nil {
			t.Skip("openssh-server is not installed (scripts/test.sh installs it)")
		}
	}
	dir := t.TempDir()
	before := map[string]string{}
	for _, host := range sysvPrivate {
		before[host] = tree(host)
		if err := os.MkdirAll(privateName(dir, host), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", "--", host+"/.", privateName(dir, host)).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v %s", host, err, out)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", "--",
		exe, "-test.run=^TestInSysVNamespace$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), inSysVEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestInSysVNamespace") {
		t.Fatalf("in the namespaces: %v\n%s", err, out)
	}
	t.Logf("in the namespaces:\n%s", out)
	for host, was := range before {
		if now := tree(host); now != was {
			t.Errorf("the host's %s changed:\n%s\nnow:\n%s", host, was, now)
		}
	}
}

// TestInSysVNamespace is the half of TestDisableSysVInitScript that runs
// in its namespaces; anywhere else it skips.
func TestInSysVNamespace(t *testing.T) {
	dir := os.Getenv(inSysVEnv)
	if dir == "" {
		t.Skip("runs only in the namespaces TestDisableSysVInitScript makes")
	}
	// A private /run (no /run/systemd/system: the scripts act themselves)
	// and private links.
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	for _, host := range sysvPrivate {
		if err := unix.Mount(privateName(dir, host), host, "", unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "ip", "link", "set", "lo", "up")
	mustRun(t, "update-rc.d", "ssh", "defaults")
	mustRun(t, "update-rc.d", "ssh", "enable")
	t.Cleanup(func() {
		// The sshd the script started, by the PID it recorded.
		if pid := readPidfile("/run/sshd.pid"); pid > 0 {
			unix.Kill(pid, unix.SIGTERM)
		}
	})
	mustRun(t, "/etc/init.d/ssh", "start")
	s := listenerAt(t, "0.0.0.0", 22, true) // wildcard: safe in this network namespace
	if pid := readPidfile("/run/sshd.pid"); len(s.Processes) == 0 || s.Processes[0].PID != pid {
		t.Fatalf("port 22 is held by %+v, not the script's sshd %d", s.Processes, pid)
	}

	plan, err := For(Env{ProcRoot: "/proc", Services: "/etc/services"}, s, Disable)
	if err != nil {
		t.Fatal(err)
	}
	steps := plan.Steps[0].Describe + "\n" + plan.Steps[1].Describe
	if plan.String() != "sysv service ssh" || len(plan.Steps) != 2 || !strings.Contains(steps, "pidfile /run/sshd.pid") ||
		!strings.Contains(steps, "(service ssh stop)") || !strings.Contains(steps, "(update-rc.d ssh disable)") {
		t.Fatalf("plan %s:\n%s", plan, steps)
	}
	if _, err := For(Env{ProcRoot: "/proc", Services: "/etc/services"}, s, Mask); err == nil {
		t.Error("planned to mask a SysV service")
	}
	if err := plan.Run(); err != nil {
		t.Fatal(err)
	}
	listenerAt(t, "0.0.0.0", 22, false)
	for _, l := range []string{"2", "3", "4", "5"} { // Default-Start of /etc/init.d/ssh
		start, _ := filepath.Glob("/etc/rc" + l + ".d/S*ssh")
		kill, _ := filepath.Glob("/etc/rc" + l + ".d/K*ssh")
		if len(start) != 0 || len(kill) != 1 {
			t.Errorf("runlevel %s after disable: start links %v, stop links %v", l, start, kill)
		}
	}
}

func mustRun(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// TestOpenRCDetectionFakeLayout checks how an OpenRC-managed daemon is
// found, on a file layout made to look like OpenRC's: this machine cannot
// boot OpenRC, so the commands the plan runs are shown, not run.
func TestOpenRCDetectionFakeLayout(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("run/openrc/softlevel", "default\n")
	write("run/openrc/daemons/nginx/001", "exec=/usr/sbin/nginx\nargv_0=/usr/sbin/nginx\npidfile=/run/nginx.pid\n")
	write("run/nginx.pid", "4242\n")
	write("run/other.pid", "4343\n")
	write("etc/init.d/redis", "#!/sbin/openrc-run\npidfile=\"/run/${RC_SVCNAME}.pid\"\n")
	write("run/redis.pid", "4444\n")
	env := Env{Root: root}

	name, pidfile := openrcService(env, map[int]bool{4242: true})
	if name != "nginx" || pidfile != "/run/nginx.pid" {
		t.Errorf("daemon record: %q %q", name, pidfile)
	}
	if name, _ := openrcService(env, map[int]bool{4343: true}); name != "" {
		t.Errorf("a pidfile no record names gave %q", name)
	}
	// A script that names its pidfile through RC_SVCNAME, not recorded.
	if p := findPidfile(env, map[int]bool{4444: true}); p != "/run/redis.pid" {
		t.Fatalf("pidfile: %q", p)
	}
	if s := scriptForPidfile(env, "/run/redis.pid"); s != "/etc/init.d/redis" {
		t.Errorf("script: %q", s)
	}
	plan := planOpenRC("nginx", "/run/nginx.pid")
	if plan.String() != "openrc service nginx" || !strings.HasSuffix(plan.Steps[0].Describe, "(rc-service nginx stop)") ||
		!strings.HasSuffix(plan.Steps[1].Describe, "(rc-update --all delete nginx)") {
		t.Errorf("plan %s: %q / %q", plan, plan.Steps[0].Describe, plan.Steps[1].Describe)
	}
}

func TestReadPidfileReadsOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "trap.pid")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- readPidfile(fifo) }()
	select {
	case pid := <-done:
		if pid != 0 {
			t.Errorf("a FIFO gave pid %d", pid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO named like a pidfile blocked")
	}
	good := filepath.Join(dir, "good.pid")
	os.WriteFile(good, []byte(" 4242 \nrest\n"), 0o644)
	if pid := readPidfile(good); pid != 4242 {
		t.Errorf("pidfile: %d", pid)
	}
}

func TestScriptForPidfileExpandsVariables(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/init.d"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/init.d/xinetd"), []byte("NAME=xinetd\nPIDFILE=/run/$NAME.pid\nstart-stop-daemon --pidfile \"$PIDFILE\"\n"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/init.d/unrelated"), []byte("PIDFILE=/run/unrelated.pid\n"), 0o755)
	env := Env{Root: root}
	if s := scriptForPidfile(env, "/run/xinetd.pid"); s != "/etc/init.d/xinetd" {
		t.Errorf("script for /run/xinetd.pid: %q", s)
	}
	if s := scriptForPidfile(env, "/run/sshd.pid"); s != "" {
		t.Errorf("script for a pidfile no script names: %q", s)
	}
}

// TestPidfileOfAnAncestorIsNoEvidenceFakeLayout checks, on a made-up
// /etc/init.d and /run around real processes, that a pidfile ties a
// listener to a script only when it holds the holder's PID or its
// parent's: a daemon started by hand in an SSH session must not be taken
// for sshd's.
func TestPidfileOfAnAncestorIsNoEvidenceFakeLayout(t *testing.T) {
	h, addr, err := sockettest.HoldListener(1)
	if err != nil {
		t.Fatal(err)
	}
	defer h[0].Close()
	s := listener(t, int(addr.Port()), true)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/init.d"), 0o755)
	os.MkdirAll(filepath.Join(root, "run"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/init.d/master"), []byte("PIDFILE=/run/master.pid\n"), 0o755)
	env := Env{ProcRoot: "/proc", Services: "/etc/services", Root: root}

	// The pidfile holds the holder's grandparent (whatever started the test).
	os.WriteFile(filepath.Join(root, "run/master.pid"), []byte(strconv.Itoa(os.Getppid())+"\n"), 0o644)
	if plan, err := planInitScript(env, s); plan != nil || err != nil {
		t.Fatalf("a grandparent's pidfile was taken as evidence: %v %v", plan, err)
	}
	// The pidfile holds the holder's parent (this test): a master and its worker.
	os.WriteFile(filepath.Join(root, "run/master.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	plan, err := planInitScript(env, s)
	if err != nil || plan == nil || plan.String() != "sysv service master" {
		t.Fatalf("the parent's pidfile: %v %v", plan, err)
	}
}
