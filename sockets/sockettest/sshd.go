//go:build linux

package sockettest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
)

// SSHD is a real OpenSSH server on Addr:Port (127.0.0.1 unless started
// elsewhere) with keys and configuration of its own, accepting one key for
// root, so tests can log in and run portwarden inside a real SSH session.
type SSHD struct {
	Addr    netip.Addr
	Port    int
	dir     string
	madeRun bool
	cmd     *exec.Cmd
}

// StartSSHD starts sshd in the foreground with its files under dir,
// listening on 127.0.0.1.
func StartSSHD(dir string) (*SSHD, error) {
	return StartSSHDAt(dir, netip.MustParseAddr("127.0.0.1"), "")
}

// StartSSHDAt starts sshd listening on addr inside the network namespace
// netns ("" for this one), e.g. on an ExternalPeer's own address.
func StartSSHDAt(dir string, addr netip.Addr, netns string) (*SSHD, error) {
	bin, err := exec.LookPath("sshd")
	if err != nil {
		return nil, errors.New("sshd is required (scripts/test.sh installs openssh-server)")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &SSHD{Addr: addr, Port: port, dir: dir}
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
		if err := os.Mkdir("/run/sshd", 0o755); err != nil {
			return nil, err
		}
		s.madeRun = true
	}
	for _, key := range []string{"host", "client"} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, key)).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s/host
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
`, s.Port, addr, dir, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	args := []string{bin, "-D", "-e", "-f", filepath.Join(dir, "sshd_config")}
	if netns != "" {
		// ip netns exec replaces itself with sshd: the PID is sshd's.
		args = append([]string{"ip", "netns", "exec", netns}, args...)
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stderr, err = os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.SysProcAttr = childAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// PID is the listening daemon's process ID.
func (s *SSHD) PID() int { return s.cmd.Process.Pid }

// SSH returns the arguments of an ssh client that logs in as root and runs
// command; tty asks for a terminal (for the dashboard).
func (s *SSHD) SSH(tty bool, command ...string) []string {
	return s.SSHAs("root", tty, command...)
}

// SSHAs is SSH logging in as user (see SudoUserForTest).
func (s *SSHD) SSHAs(user string, tty bool, command ...string) []string {
	args := []string{"ssh", "-i", filepath.Join(s.dir, "client"), "-p", fmt.Sprint(s.Port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"}
	if tty {
		args = append(args, "-tt")
	} else {
		args = append(args, "-T")
	}
	return append(append(args, user+"@"+s.Addr.String(), "--"), command...)
}

// Stop ends the daemon (and with it, its sessions) by its own handle.
func (s *SSHD) Stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	if s.madeRun {
		os.Remove("/run/sshd")
	}
}
