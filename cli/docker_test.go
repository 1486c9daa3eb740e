package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestContainersNamed runs a real Docker engine with three containers — a
// bind shell nobody published, a web server published through the
// userland proxy on loopback, and one on the host's network — and checks
// that the snapshot shows each container's sockets (the same ones ss sees
// inside its namespace), in the right namespace, named with container and
// image.
func TestContainersNamed(t *testing.T) {
	d := sockettest.DockerForTest(t, netip.MustParsePrefix("198.51.100.225/28"))
	bin := buildBinary(t)
	hostPort := freeLoopbackPort(t)
	hostNetPort := freeLoopbackPort(t)
	for _, args := range [][]string{
		{"run", "-d", "--name", "db1", d.Image, "/bin/busybox", "nc", "-ll", "-p", "5432", "-e", "/bin/sh"},
		{"run", "-d", "--name", "web1", "-p", "127.0.0.1:" + strconv.Itoa(hostPort) + ":80", d.Image, "/bin/busybox", "httpd", "-f", "-p", "80"},
		{"run", "-d", "--name", "hostnet1", "--network", "host", d.Image, "/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:" + strconv.Itoa(hostNetPort)},
	} {
		if _, err := d.Run(args...); err != nil {
			t.Fatal(err)
		}
	}
	pids := map[string]int{}
	for _, name := range []string{"db1", "web1", "hostnet1"} {
		var err error
		if pids[name], err = d.PID(name); err != nil {
			t.Fatal(err)
		}
	}
	inNS := func(name string) []string { return ssListeners(t, pids[name]) }
	waitUntil(t, "the containers to listen", func() bool {
		return slices.Contains(inNS("db1"), "tcp [::]:5432") && slices.Contains(inNS("web1"), "tcp [::]:80") &&
			slices.Contains(inNS("hostnet1"), fmt.Sprintf("tcp 127.0.0.1:%d", hostNetPort))
	})

	snap := snapshotOf(t, bin, d, "--listening")
	for _, name := range []string{"db1", "web1", "hostnet1"} {
		ino := nsInode(t, pids[name])
		var ours []string
		for _, s := range snap.Sockets {
			if s.NetNS == nil || s.NetNS.Inode != ino {
				continue
			}
			addr := netip.AddrPortFrom(netip.MustParseAddr(s.LocalIP), s.LocalPort)
			row := s.Proto + " " + addr.String()
			if name == "hostnet1" && addr.Port() != uint16(hostNetPort) {
				continue // the host's own listeners share this namespace
			}
			ours = append(ours, row)
			exposure := deref(s.Exposure)
			switch {
			case name == "db1" && (exposure != "container" || s.Published == nil || len(s.Published) != 0 ||
				!slices.ContainsFunc(s.Reasons, func(r string) bool { return strings.Contains(r, "container db1's network; not published on the host") })):
				t.Errorf("db1's unpublished listener: exposure %q, published %v, reasons %q", exposure, s.Published, s.Reasons)
			case name == "web1" && (exposure != "loopback" || len(s.Published) != 1 || s.Published[0].HostIP != "127.0.0.1" ||
				int(s.Published[0].HostPort) != hostPort || s.Published[0].Via != "proxy"):
				t.Errorf("web1's listener published on 127.0.0.1:%d: exposure %q, published %+v", hostPort, exposure, s.Published)
			case name == "hostnet1" && (s.Published != nil || exposure != "loopback"):
				t.Errorf("hostnet1 is on the host's network: exposure %q, published %+v", exposure, s.Published)
			}
			c := s.Container
			if c == nil || c.Runtime != "docker" || c.Name == nil || *c.Name != name || c.Image == nil || *c.Image != d.Image {
				t.Errorf("%s: socket %s names container %+v, want %s (%s)", name, row, c, name, d.Image)
			}
		}
		want := inNS(name)
		if name == "hostnet1" {
			want = []string{fmt.Sprintf("tcp 127.0.0.1:%d", hostNetPort)}
		}
		slices.Sort(ours)
		if !slices.Equal(ours, want) {
			t.Errorf("%s's listeners: portwarden %v, ss %v", name, ours, want)
		}
	}
	// A connection between two containers on the container bridge is
	// internal, whatever range the bridge has (here a documentation one).
	dbIP, err := d.Run("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "db1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run("run", "-d", "--name", "client1", d.Image, "/bin/sh", "-c", "sleep 120 | /bin/busybox nc "+dbIP+" 5432"); err != nil {
		t.Fatal(err)
	}
	clientPID, err := d.PID("client1")
	if err != nil {
		t.Fatal(err)
	}
	var peer string
	waitUntil(t, "client1's connection to db1", func() bool {
		conns := snapshotOf(t, bin, d, "--tcp")
		for _, s := range conns.Sockets {
			if s.RemoteIP == dbIP && s.RemotePort == 5432 && s.NetNS != nil && s.NetNS.Inode == nsInode(t, clientPID) {
				peer = deref(s.Peer)
				return true
			}
		}
		return false
	})
	if peer != "internal" {
		t.Errorf("client1 → db1 on the container bridge: peer %q, want internal", peer)
	}

	// A baseline entry may name the container: db1's port is then
	// expected, and the same port elsewhere is not.
	base := t.TempDir() + "/b.toml"
	if out, err := exec.Command(bin, "baseline", "add", "--baseline", base, "--audit-log", t.TempDir()+"/a.log",
		"--container", "db1", "--reason", "lab database", "tcp/5432").CombinedOutput(); err != nil {
		t.Fatalf("baseline add --container: %v %s", err, out)
	}
	judged := snapshotOf(t, bin, d, "--listening", "--tcp", "--baseline", base)
	found := false
	for _, s := range judged.Sockets {
		if s.LocalPort == 5432 && s.NetNS != nil && s.NetNS.Inode == nsInode(t, pids["db1"]) {
			found = true
			if !s.Expected {
				t.Error("db1's listener is not expected by an entry naming container db1")
			}
		}
	}
	if !found {
		t.Error("db1's listener is missing")
	}

	// kill names the container and its restart policy.
	kill := exec.Command(bin, "kill", "--dry-run", "--audit-log", t.TempDir()+"/audit.log", strconv.Itoa(pids["db1"]))
	kill.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.Socket)
	if out, err := kill.CombinedOutput(); err != nil || !strings.Contains(string(out), "container db1 (docker ") ||
		!strings.Contains(string(out), "restart policy no") {
		t.Errorf("kill --dry-run of db1's process: %v\n%s", err, out)
	}

	// The userland proxy holds the published port on the host.
	found = false
	for _, s := range snap.Sockets {
		if int(s.LocalPort) == hostPort && s.LocalIP == "127.0.0.1" && s.NetNS != nil && s.NetNS.Host {
			found = len(s.Processes) > 0 && s.Processes[0].Name == "docker-proxy"
			if f := s.ForwardsTo; f == nil || f.Port != 80 || f.Container == nil || *f.Container != "web1" {
				t.Errorf("docker-proxy's listener forwards to %+v, want web1 port 80", f)
			}
		}
	}
	if !found {
		t.Errorf("docker-proxy's listener on 127.0.0.1:%d is not in the snapshot", hostPort)
	}
}

// ssListeners is the oracle: the listening sockets ss sees in the network
// namespace of pid, as "proto addr:port", sorted.
func ssListeners(t *testing.T, pid int) []string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(pid)+"/ns/net", "ss", "-tulnH").Output()
	if err != nil {
		t.Fatalf("nsenter ss: %v", err)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		local := f[4]
		if rest, ok := strings.CutPrefix(local, "*:"); ok {
			local = "[::]:" + rest // ss's "*" is a dual-stack [::]
		}
		addr, err := netip.ParseAddrPort(local)
		if err != nil {
			t.Fatalf("ss row %q", l)
		}
		rows = append(rows, f[0]+" "+addr.String())
	}
	slices.Sort(rows)
	return rows
}

func nsInode(t *testing.T, pid int) uint64 {
	t.Helper()
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDisableContainer disables a container that would restart itself:
// the engine stops it and its restart policy becomes "no", recorded.
func TestDisableContainer(t *testing.T) {
	d := sockettest.DockerForTest(t, netip.MustParsePrefix("198.51.100.241/28"))
	bin := buildBinary(t)
	if _, err := d.Run("run", "-d", "--name", "shell1", "--restart", "always", "--stop-timeout", "1", d.Image, "/bin/busybox", "nc", "-ll", "-p", "31337", "-e", "/bin/sh"); err != nil {
		t.Fatal(err)
	}
	pid, err := d.PID("shell1")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "shell1 to listen", func() bool { return slices.Contains(ssListeners(t, pid), "tcp [::]:31337") })
	log := t.TempDir() + "/audit.log"
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append(args, "--audit-log", log, "--baseline", t.TempDir()+"/b.toml")...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.Socket)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := run("disable", "--dry-run", strconv.Itoa(pid))
	if code != 0 || !strings.Contains(out, "disable docker container shell1:") || !strings.Contains(out, "1. stop container shell1") ||
		!strings.Contains(out, `2. set the restart policy of shell1 to "no" (it was "always")`) {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if state, _ := d.Run("inspect", "-f", "{{.State.Running}}", "shell1"); state != "true" {
		t.Fatalf("the dry run stopped the container: running=%s", state)
	}
	out, code = run("disable", "--yes", strconv.Itoa(pid))
	if code != 0 || !strings.Contains(out, "disabled docker container shell1") {
		t.Fatalf("disable: exit %d\n%s", code, out)
	}
	state, _ := d.Run("inspect", "-f", "{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}", "shell1")
	if state != "false no" {
		t.Errorf("after disable: running and restart policy = %q, want \"false no\"", state)
	}
	recs := readAudit(t, log)
	if len(recs) != 1 || recs[0].Action != "disable" || recs[0].Result != "done" || !strings.Contains(recs[0].Detail, "stop container shell1") {
		t.Errorf("audit: %+v", recs)
	}
}

// TestContainersPublishedByDNAT runs an engine that publishes by DNAT only
// (--userland-proxy=false), in a network namespace of its own so that its
// iptables rules touch nothing of the host's: the container's listener is
// published "dnat", and the port dockerd holds to reserve it forwards to
// the container.
func TestContainersPublishedByDNAT(t *testing.T) {
	d := sockettest.DockerNATForTest(t, netip.MustParsePrefix("198.51.100.161/28"))
	bin := buildBinary(t)
	if _, err := d.Run("run", "-d", "--name", "web9", "-p", "18089:80", d.Image, "/bin/busybox", "httpd", "-f", "-p", "80"); err != nil {
		t.Fatal(err)
	}
	pid, err := d.PID("web9")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "web9 to listen", func() bool { return slices.Contains(ssListeners(t, pid), "tcp [::]:80") })
	// One more port forward, written by hand (iptables-nft) beside the
	// engine's: the engine does not know it, nftables does.
	ip, err := d.Run("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web9")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", d.NetNS, "iptables", "-t", "nat", "-A", "DOCKER", "-p", "tcp",
		"--dport", "18099", "-j", "DNAT", "--to-destination", ip+":80").CombinedOutput(); err != nil {
		t.Fatalf("iptables in the engine's namespace: %v %s", err, out)
	}
	snap := snapshotOf(t, bin, d, "--listening", "--tcp")
	var published, byHand, reserved bool
	for _, s := range snap.Sockets {
		switch {
		case s.LocalPort == 80 && len(s.Published) == 2:
			p := s.Published[0]
			published = p.HostIP == "0.0.0.0" && p.HostPort == 18089 && p.Via == "dnat" && deref(s.Exposure) == "all"
			p = s.Published[1]
			byHand = p.HostIP == "0.0.0.0" && p.HostPort == 18099 && p.Via == "dnat"
		case s.LocalPort == 18089 && len(s.Processes) > 0 && s.Processes[0].Name == "dockerd":
			f := s.ForwardsTo
			reserved = f != nil && f.Port == 80 && f.Container != nil && *f.Container == "web9"
		}
	}
	if !published || !byHand || !reserved {
		t.Errorf("DNAT publishing: by the engine %v, by a hand-written rule %v, dockerd's port forwarding to web9 %v\n%+v", published, byHand, reserved, snap.Sockets)
	}
}

// snapshotOf runs the real binary's snapshot --json beside engine d and
// decodes it with the schema itself (report.Snapshot). A --baseline in
// args wins over the empty one it gives.
func snapshotOf(t *testing.T, bin string, d *sockettest.Docker, args ...string) report.Snapshot {
	t.Helper()
	args = append([]string{"snapshot", "--json", "--baseline", t.TempDir() + "/b.toml"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.Socket)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr.String())
	}
	var snap report.Snapshot
	if err := json.Unmarshal(out, &snap); err != nil {
		t.Fatalf("snapshot --json: %v", err)
	}
	return snap
}

// deref reads an optional JSON string: "" for null.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
