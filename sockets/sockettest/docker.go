//go:build linux

package sockettest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Docker is a real Docker engine of a test's own: its own socket, data and
// exec roots, pidfile and bridge, no iptables rules and no change to the
// host's ip_forward (the host's network configuration is left alone), with
// a busybox image imported from Debian's busybox-static (no registry is
// reachable).
type Docker struct {
	Socket string // unix socket of the engine's API
	Image  string // the busybox image
	Bridge string
	// NetNS is the network namespace the engine runs in, when it has one
	// of its own (see StartDockerNAT); "" for the host's.
	NetNS string
	cli   string
	root  string // data root
	exec  string // exec root
	log   string // the engine's output, removed by Stop
	cmd   *exec.Cmd
}

// StartDocker starts dockerd and imports the image. bridge4 is the
// bridge's address, in a documentation range no other test uses.
func StartDocker(bridge4 netip.Prefix) (*Docker, error) { return startDocker(bridge4, false, nil) }

// StartDockerNAT starts dockerd in a network namespace of its own, where
// it may write iptables rules and turn forwarding on without touching the
// host: ports are published by DNAT only (--userland-proxy=false), and
// dockerd itself holds each published host port in that namespace.
func StartDockerNAT(bridge4 netip.Prefix) (*Docker, error) { return startDocker(bridge4, true, nil) }

// startDocker starts the engine; before, when set, runs in its namespace
// (ownNetNS) once the namespace and bridge exist and before dockerd
// starts, for a firewall that would otherwise flush the engine's chains.
func startDocker(bridge4 netip.Prefix, ownNetNS bool, before func(netns string) error) (*Docker, error) {
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, errors.New("dockerd is required (scripts/test.sh installs docker.io)")
	}
	cli := "/usr/bin/docker" // Debian's client, of the engine's version
	if _, err := os.Stat(cli); err != nil {
		if cli, err = exec.LookPath("docker"); err != nil {
			return nil, errors.New("the docker client is required (scripts/test.sh installs docker.io)")
		}
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return nil, errors.New("busybox is required (scripts/test.sh installs busybox-static)")
	}
	id := fmt.Sprintf("pwdk%d", os.Getpid()%100000)
	d := &Docker{Socket: "/run/" + id + ".sock", Image: id + "-busybox:1", Bridge: id, cli: cli,
		root: "/var/lib/portwarden-test-" + id, exec: "/run/" + id + "-exec"}
	ip := func(args ...string) []string { return args }
	args := [][]string{ip("link", "add", d.Bridge, "type", "bridge"), ip("addr", "add", bridge4.String(), "dev", d.Bridge), ip("link", "set", d.Bridge, "up")}
	if ownNetNS {
		d.NetNS = id + "-ns"
		args = append([][]string{ip("netns", "add", d.NetNS), ip("-n", d.NetNS, "link", "set", "lo", "up")}, args...)
		for i := 2; i < len(args); i++ {
			args[i] = append([]string{"-n", d.NetNS}, args[i]...)
		}
	}
	for _, a := range args {
		if out, err := exec.Command("ip", a...).CombinedOutput(); err != nil {
			d.Stop()
			return nil, fmt.Errorf("sockettest: ip %s: %v: %s", strings.Join(a, " "), err, out)
		}
	}
	if before != nil {
		if err := before(d.NetNS); err != nil {
			d.Stop()
			return nil, err
		}
	}
	engine := []string{dockerd, "--host", "unix://" + d.Socket, "--pidfile", "/run/" + id + ".pid",
		"--data-root", d.root, "--exec-root", d.exec, "--bridge", d.Bridge}
	if ownNetNS {
		// nsenter, not ip netns exec: that one remounts /sys, hiding the
		// cgroups dockerd needs.
		engine = append([]string{"nsenter", "--net=/run/netns/" + d.NetNS}, append(engine, "--userland-proxy=false")...)
	} else {
		engine = append(engine, "--iptables=false", "--ip-masq=false", "--ip-forward=false")
	}
	d.cmd = exec.Command(engine[0], engine[1:]...)
	d.log = filepath.Join(os.TempDir(), id+"-dockerd.log")
	if d.cmd.Stderr, err = os.Create(d.log); err != nil {
		d.Stop()
		return nil, err
	}
	d.cmd.SysProcAttr = childAttr()
	if err := d.cmd.Start(); err != nil {
		d.Stop()
		return nil, err
	}
	if !WaitFor(30*time.Second, func() bool { _, err := d.Run("info"); return err == nil }) {
		d.Stop()
		return nil, errors.New("sockettest: dockerd did not answer within 30s")
	}
	// An image from a tar of a directory holding busybox.
	dir, err := os.MkdirTemp("", id+"-image-")
	if err != nil {
		d.Stop()
		return nil, err
	}
	defer os.RemoveAll(dir)
	b, err := os.ReadFile(busybox)
	if err == nil {
		err = os.MkdirAll(filepath.Join(dir, "root", "bin"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "root", "bin", "busybox"), b, 0o755)
	}
	if err == nil {
		err = os.Symlink("busybox", filepath.Join(dir, "root", "bin", "sh"))
	}
	if err != nil {
		d.Stop()
		return nil, err
	}
	tar := filepath.Join(dir, "image.tar")
	if out, err := exec.Command("tar", "-C", filepath.Join(dir, "root"), "-cf", tar, ".").CombinedOutput(); err != nil {
		d.Stop()
		return nil, fmt.Errorf("sockettest: tar: %v: %s", err, out)
	}
	if _, err := d.Run("import", tar, d.Image); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// Run runs the docker client against this engine and returns its output.
func (d *Docker) Run(args ...string) (string, error) {
	out, err := exec.Command(d.cli, append([]string{"-H", "unix://" + d.Socket}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// PID is the main process of a running container.
func (d *Docker) PID(name string) (int, error) {
	out, err := d.Run("inspect", "-f", "{{.State.Pid}}", name)
	if err != nil {
		return 0, err
	}
	var pid int
	_, err = fmt.Sscan(out, &pid)
	return pid, err
}

// Stop removes every container, stops the engine by its own handle, and
// removes its bridge, mounts and directories.
func (d *Docker) Stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		if ids, err := d.Run("ps", "-aq"); err == nil && ids != "" {
			d.Run(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		d.cmd.Process.Signal(unix.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	}
	// What a dockerd killed mid-way may leave mounted under its roots.
	for _, dir := range []string{d.exec, d.root} {
		if dir == "" {
			continue
		}
		for _, m := range mountsUnder(dir) {
			unix.Unmount(m, unix.MNT_DETACH)
		}
		os.RemoveAll(dir)
	}
	if d.NetNS != "" {
		exec.Command("ip", "netns", "del", d.NetNS).Run() // its bridge and rules go with it
	} else {
		exec.Command("ip", "link", "del", d.Bridge).Run()
	}
	os.Remove(d.Socket)
	if d.log != "" {
		os.Remove(d.log)
	}
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// DockerForTest starts a Docker engine for t (see StartDocker), or skips t
// where none can run here (not root, docker.io not installed), and stops
// it when t ends, on failure too.
func DockerForTest(t testing.TB, bridge4 netip.Prefix) *Docker {
	return dockerForTest(t, bridge4, StartDocker)
}

// DockerNATForTest is DockerForTest for StartDockerNAT.
func DockerNATForTest(t testing.TB, bridge4 netip.Prefix) *Docker {
	return dockerForTest(t, bridge4, StartDockerNAT)
}

// DockerNATBesideForTest is DockerNATForTest with before run in the
// engine's namespace before dockerd starts (firewalld, say, which
// flushes iptables chains when it starts, as on a host where it runs
// first).
func DockerNATBesideForTest(t testing.TB, bridge4 netip.Prefix, before func(netns string) error) *Docker {
	return dockerForTest(t, bridge4, func(p netip.Prefix) (*Docker, error) { return startDocker(p, true, before) })
}

func dockerForTest(t testing.TB, bridge4 netip.Prefix, start func(netip.Prefix) (*Docker, error)) *Docker {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("dockerd needs root")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skip("dockerd is not installed (scripts/test.sh installs docker.io)")
	}
	forward, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	d, err := start(bridge4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() { // what the engine said, before Stop removes it
			if b, err := os.ReadFile(d.log); err == nil {
				t.Logf("dockerd's output (the end):\n%s", b[max(0, len(b)-4096):])
			}
		}
		d.Stop()
		// The engine must have left the host's forwarding as it was.
		if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(forward) {
			t.Errorf("the test's dockerd changed net.ipv4.ip_forward from %q to %q", strings.TrimSpace(string(forward)), strings.TrimSpace(string(now)))
		}
	})
	return d
}
