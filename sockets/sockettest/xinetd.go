//go:build linux

package sockettest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Xinetd is a real xinetd with a configuration of its own, serving its
// internal echo service on 127.0.0.1:Port.
type Xinetd struct {
	Conf, ServiceFile string
	Service           string // the service file's text as written
	Port              int
	cmd               *exec.Cmd
}

// StartXinetd starts xinetd in the foreground with its configuration under
// dir, on a free loopback port. It returns once xinetd runs; the caller
// waits for the port.
func StartXinetd(dir string) (*Xinetd, error) {
	bin, err := exec.LookPath("xinetd")
	if err != nil {
		return nil, errors.New("xinetd is required (scripts/test.sh installs it)")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	x := &Xinetd{Conf: filepath.Join(dir, "xinetd.conf"), ServiceFile: filepath.Join(dir, "xinetd.d", "pwecho"), Port: port}
	if err := os.MkdirAll(filepath.Dir(x.ServiceFile), 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("defaults\n{\n\tlog_type = FILE %s/log\n}\nincludedir %s\n", dir, filepath.Dir(x.ServiceFile))
	x.Service = fmt.Sprintf(`# a test service
service echo
{
	type        = INTERNAL UNLISTED
	id          = echo-portwarden-test
	socket_type = stream
	protocol    = tcp
	port        = %d
	bind        = 127.0.0.1
	wait        = no
	user        = root
	disable     = no
}
`, port)
	if err := os.WriteFile(x.Conf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(x.ServiceFile, []byte(x.Service), 0o644); err != nil {
		return nil, err
	}
	x.cmd = exec.Command(bin, "-dontfork", "-f", x.Conf, "-pidfile", filepath.Join(dir, "pid"))
	x.cmd.Stderr = os.Stderr
	x.cmd.SysProcAttr = childAttr()
	if err := x.cmd.Start(); err != nil {
		return nil, err
	}
	return x, nil
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitFor polls cond until it holds or timeout passes, and reports whether
// it held: tests wait on a condition with a deadline, never a sleep.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // the polling interval, not a synchronisation
	}
	return true
}

// PID is the daemon's process ID.
func (x *Xinetd) PID() int { return x.cmd.Process.Pid }

// Stop ends the daemon by its own handle (never by name) and reaps it.
func (x *Xinetd) Stop() {
	x.cmd.Process.Kill()
	x.cmd.Wait()
}
