//go:build linux

package sockettest

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// AuthBed is a real OpenSSH server taking passwords inside a namespace of
// a test's own, logging through a real rsyslogd to files of the test's
// (AuthLog in rsyslog's default RFC 3339 format, TraditionalLog in the
// traditional one), and optionally a real fail2ban watching that log
// with nftables bans. All run in a private mount namespace with a tmpfs
// over /run and a /dev of a few device nodes, so that /dev/log, /run/sshd
// and /run/fail2ban are theirs and nothing appears on the host.
type AuthBed struct {
	Addr           netip.Addr
	Port           int
	AuthLog        string
	TraditionalLog string
	Fail2banDB     string // "" without fail2ban
	dir            string
	cmd            *exec.Cmd
}

// AuthBedOptions choose what runs beside sshd.
type AuthBedOptions struct {
	Fail2ban bool // a jail "sshd" banning after 3 failures for 10 minutes
	// Journal logs through a real systemd-journald instead of rsyslogd,
	// its files on a tmpfs of the bed's own (JournalDir).
	Journal bool
}

// AuthBedForTest starts the bed in ns listening on addr, or fails t where
// its programs are missing; it stops everything it started when t ends.
func AuthBedForTest(t testing.TB, ns *Namespace, addr netip.Addr, opts AuthBedOptions) *AuthBed {
	t.Helper()
	need := []string{"sshd", "rsyslogd", "sshpass", "unshare"}
	if opts.Fail2ban {
		need = append(need, "fail2ban-server", "fail2ban-client")
	}
	for _, bin := range need {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (scripts/test.sh installs it)", bin)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := &AuthBed{Addr: addr, Port: port, dir: dir,
		AuthLog: filepath.Join(dir, "auth.log"), TraditionalLog: filepath.Join(dir, "auth-traditional.log")}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	files := map[string]string{
		"sshd_config": fmt.Sprintf("Port %d\nListenAddress %s\nHostKey %s/host\nPidFile %s/sshd.pid\n"+
			"PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin yes\nMaxStartups 100\n",
			port, addr, dir, dir),
		"rsyslog.conf": fmt.Sprintf("module(load=\"imuxsock\")\nauth,authpriv.* %s\nauth,authpriv.* %s;RSYSLOG_TraditionalFileFormat\n",
			b.AuthLog, b.TraditionalLog),
	}
	script := fmt.Sprintf(`set -e
d=%s
mount -t tmpfs pw-authbed-run /run
mkdir -p /run/sshd /run/fail2ban $d/dev
mount -t tmpfs pw-authbed-dev $d/dev
for n in null zero urandom random tty; do touch $d/dev/$n; mount --bind /dev/$n $d/dev/$n; done
mount --bind $d/dev /dev
`, dir)
	if opts.Journal {
		script += `mkdir -p /run/systemd/journal /run/log/journal
mount -t tmpfs pw-authbed-journal /var/log/journal
# ip netns exec mounts a fresh /sys, without cgroups: journald needs them.
mount -t cgroup2 pw-authbed-cgroup /sys/fs/cgroup
/lib/systemd/systemd-journald &
echo $! >$d/journald.pid
for i in $(seq 100); do [ -S /run/systemd/journal/dev-log ] && break; sleep 0.05; done
ln -s /run/systemd/journal/dev-log /dev/log
`
	} else {
		script += `rsyslogd -n -f $d/rsyslog.conf -i /run/rsyslogd.pid &
for i in $(seq 100); do [ -S /dev/log ] && break; sleep 0.05; done
`
	}
	if opts.Fail2ban {
		b.Fail2banDB = filepath.Join(dir, "fail2ban.sqlite3")
		files["fail2ban.local"] = fmt.Sprintf("[DEFAULT]\nlogtarget = %s/fail2ban.log\nsocket = /run/fail2ban/fail2ban.sock\n"+
			"pidfile = /run/fail2ban/fail2ban.pid\ndbfile = %s\n", dir, b.Fail2banDB)
		files["jail.local"] = fmt.Sprintf("[DEFAULT]\nbanaction = nftables-multiport\nbanaction_allports = nftables-allports\n"+
			"backend = polling\n\n[sshd]\nenabled = true\nbackend = polling\nport = %d\nlogpath = %s\nmaxretry = 3\nfindtime = 600\nbantime = 600\n",
			port, b.AuthLog)
		script += `cp -a /etc/fail2ban $d/fail2ban
rm -f $d/fail2ban/jail.d/*
cp $d/fail2ban.local $d/jail.local $d/fail2ban/
mount --bind $d/fail2ban /etc/fail2ban
touch ` + b.AuthLog + `
fail2ban-server -f -x --logtarget $d/fail2ban.log &
`
	}
	script += "exec /usr/sbin/sshd -D -f $d/sshd_config\n"
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b.cmd = exec.Command("ip", "netns", "exec", ns.Name, "unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if b.cmd.Stderr, err = os.Create(filepath.Join(dir, "stderr")); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) // the group this test started
		b.cmd.Wait()
	})
	ready := func() bool {
		if opts.Journal {
			if _, err := os.Stat(filepath.Join(dir, "sshd.pid")); err != nil {
				return false
			}
		} else if log, _ := os.ReadFile(b.AuthLog); !strings.Contains(string(log), "Server listening on") {
			return false
		}
		if !opts.Fail2ban {
			return true
		}
		// Its database in the test's directory proves it read the
		// test's configuration, not the host's.
		_, err := os.Stat(b.Fail2banDB)
		return err == nil && b.fail2ban("ping") == nil
	}
	if !WaitFor(30*time.Second, ready) {
		stderr, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		f2b, _ := os.ReadFile(filepath.Join(dir, "fail2ban.log"))
		t.Fatalf("the auth bed did not start:\n%s\n%s", stderr, f2b)
	}
	return b
}

// JournalDir is where the bed's journald keeps its files, seen from this
// mount namespace (through the daemon's root); "" without Journal.
func (b *AuthBed) JournalDir() string {
	pid, err := os.ReadFile(filepath.Join(b.dir, "journald.pid"))
	if err != nil {
		return ""
	}
	return "/proc/" + strings.TrimSpace(string(pid)) + "/root/run/log/journal"
}

// fail2ban runs fail2ban-client against this bed's server, in its mount
// and network namespaces.
func (b *AuthBed) fail2ban(args ...string) error {
	out, err := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(b.cmd.Process.Pid), "--mount", "--net", "--",
		"fail2ban-client"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fail2ban-client %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// FailPassword tries one password login as user from the namespace from
// (from its address bind, when valid), with a wrong password, and returns
// once the client has given up.
func (b *AuthBed) FailPassword(from *Namespace, bind netip.Addr, user string) error {
	args := []string{"netns", "exec", from.Name, "sshpass", "-p", "wrong-password", "ssh",
		"-p", strconv.Itoa(b.Port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
		"-o", "ConnectTimeout=5"}
	if bind.IsValid() {
		args = append(args, "-o", "BindAddress="+bind.String())
	}
	cmd := exec.Command("ip", append(args, user+"@"+b.Addr.String(), "true")...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return fmt.Errorf("a wrong password logged %s in: %s", user, out)
	}
	return nil
}
