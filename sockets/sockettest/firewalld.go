//go:build linux

package sockettest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Firewalld is Debian's firewalld running for real inside a namespace of
// a test's own: its own mount namespace with a tmpfs over /run (a private
// D-Bus system bus) and a private copy of /etc/firewalld, logging to the
// test's directory. Its ruleset is that namespace's alone.
type Firewalld struct {
	cmd *exec.Cmd
}

// FirewalldForTest starts firewalld in ns, or skips t where it is not
// installed, and stops it (its whole process group) when t ends.
func FirewalldForTest(t testing.TB, ns *Namespace) *Firewalld {
	t.Helper()
	for _, bin := range []string{"firewalld", "firewall-cmd", "dbus-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (scripts/test.sh installs firewalld)", bin)
		}
	}
	dir := t.TempDir()
	script := fmt.Sprintf(`set -e
mount -t tmpfs pw-firewalld-run /run
mkdir -p /run/dbus /run/firewalld
cp -a /etc/firewalld %[1]s/etc
mount --bind %[1]s/etc /etc/firewalld
dbus-daemon --system --nofork --nopidfile &
for i in $(seq 100); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
exec firewalld --nofork --nopid --log-target file --log-file %[1]s/firewalld.log
`, dir)
	f := &Firewalld{cmd: exec.Command("ip", "netns", "exec", ns.Name, "unshare", "--mount", "--propagation", "private", "sh", "-c", script)}
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var err error
	if f.cmd.Stderr, err = os.Create(filepath.Join(dir, "stderr")); err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL) // the group this test started
		f.cmd.Wait()
	})
	if !WaitFor(30*time.Second, func() bool { return f.Cmd("--state") == nil }) {
		log, _ := os.ReadFile(filepath.Join(dir, "firewalld.log"))
		stderr, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		t.Fatalf("firewalld did not start:\n%s\n%s", log, stderr)
	}
	return f
}

// Cmd runs firewall-cmd against this firewalld (in its mount namespace,
// where its bus is).
func (f *Firewalld) Cmd(args ...string) error {
	out, err := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(f.cmd.Process.Pid), "--mount", "--net", "--",
		"firewall-cmd"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("firewall-cmd %s: %w: %s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(string(out), "success") && !strings.Contains(string(out), "running") {
		return errors.New("firewall-cmd " + strings.Join(args, " ") + ": " + string(out))
	}
	return nil
}
