//go:build linux

package sockettest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
// dir. It returns once xinetd runs; the caller waits for the port.
func StartXinetd(dir string, port int) (*Xinetd, error) {
	bin, err := exec.LookPath("xinetd")
	if err != nil {
		return nil, errors.New("xinetd is required (scripts/test.sh installs it)")
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

// PID is the daemon's process ID.
func (x *Xinetd) PID() int { return x.cmd.Process.Pid }

// Stop ends the daemon by its own handle (never by name) and reaps it.
func (x *Xinetd) Stop() {
	x.cmd.Process.Kill()
	x.cmd.Wait()
}
