package session

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets"
)

// fakeProc is one process of a /proc tree written for a test.
type fakeProc struct {
	pid, ppid int
	name      string
	uid       int
	tty       uint64 // tty_nr
	env       string // SSH_CONNECTION, if any
}

func pts(n uint64) uint64 { return 136<<8 | n }

// writeProc lays out a /proc tree (stat, status, environ) under a temp
// dir.
func writeProc(t *testing.T, procs []fakeProc) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (%s) S %d %d %d %d -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", p.pid, p.name, p.ppid, p.pid, p.pid, p.tty)
		env := "PATH=/usr/bin\x00"
		if p.env != "" {
			env += "SSH_CONNECTION=" + p.env + "\x00"
		}
		status := fmt.Sprintf("Name:\t%s\nUid:\t%d\t0\t0\t0\n", p.name, p.uid)
		for name, body := range map[string]string{"stat": stat, "status": status, "environ": env} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// sshBox is a host with one sshd, two sessions and a tmux server.
func sshBox() (procs []fakeProc, snap *sockets.Snapshot) {
	procs = []fakeProc{
		{pid: 100, ppid: 1, name: "sshd"},
		// alice: a login shell, sudo (use_pty: a new terminal), portwarden
		{pid: 200, ppid: 100, name: "sshd"},
		{pid: 201, ppid: 200, name: "sshd", uid: 64001},
		{pid: 202, ppid: 201, name: "bash", uid: 64001, tty: pts(3)},
		{pid: 203, ppid: 202, name: "sudo", tty: pts(3)},
		{pid: 204, ppid: 203, name: "sudo", tty: pts(4)},
		{pid: 205, ppid: 204, name: "portwarden", tty: pts(4)},
		// bob: a shell running a tmux client
		{pid: 300, ppid: 100, name: "sshd"},
		{pid: 301, ppid: 300, name: "sshd", uid: 64002},
		{pid: 302, ppid: 301, name: "bash", uid: 64002, tty: pts(5)},
		{pid: 303, ppid: 302, name: "tmux: client", uid: 64002, tty: pts(5)},
		// bob's tmux server, detached from any session by its parentage
		{pid: 400, ppid: 1, name: "tmux: server", uid: 64002},
		{pid: 401, ppid: 400, name: "bash", uid: 64002, tty: pts(6)},
		{pid: 402, ppid: 401, name: "portwarden", uid: 64002, tty: pts(6)},
		// started elsewhere, knowing only its terminal or its environment
		{pid: 500, ppid: 1, name: "portwarden", tty: pts(5)},
		{pid: 600, ppid: 1, name: "sh", env: "198.51.100.8 50001 10.0.0.1 22"},
		{pid: 601, ppid: 600, name: "portwarden"},
		{pid: 700, ppid: 1, name: "portwarden"},
	}
	p := func(pid int) *sockets.Process { return &sockets.Process{PID: pid, Name: "sshd"} }
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	snap = &sockets.Snapshot{Sockets: []sockets.Socket{
		{Proto: sockets.TCP, State: sockets.Listen, Local: ap("0.0.0.0:22"), Processes: []*sockets.Process{p(100)}},
		{Proto: sockets.TCP, State: sockets.Established, Local: ap("10.0.0.1:22"), Remote: ap("198.51.100.7:50000"), Processes: []*sockets.Process{p(200), p(201)}},
		{Proto: sockets.TCP, State: sockets.Established, Local: ap("10.0.0.1:22"), Remote: ap("198.51.100.8:50001"), Processes: []*sockets.Process{p(300), p(301)}},
		// sshd forwarding a port out (ssh -L): not a session
		{Proto: sockets.TCP, State: sockets.Established, Local: ap("10.0.0.1:41000"), Remote: ap("203.0.113.9:80"), Processes: []*sockets.Process{p(201)}},
		// a session in another namespace is matched within its own
		{Proto: sockets.TCP, State: sockets.Established, Local: ap("10.0.0.1:22"), Remote: ap("198.51.100.9:50002"), NetNS: 9, Processes: []*sockets.Process{p(100)}},
	}}
	return procs, snap
}

func TestFind(t *testing.T) {
	procs, snap := sshBox()
	root := writeProc(t, procs)
	for _, c := range []struct {
		self     int
		own      string // client of the own session; "" for none
		how      string
		sessions int
	}{
		{205, "198.51.100.7", "runs inside it (through bash → sudo → sudo)", 2},
		{402, "198.51.100.8", "runs in tmux (server pid 400), attached from it by pid 303", 2},
		{500, "198.51.100.8", "terminal pts/5 is the session's", 2},
		{601, "198.51.100.8", `SSH_CONNECTION of "sh" (pid 600)`, 2},
		{700, "", "", 2},
	} {
		found := Find(root, snap, c.self)
		if len(found) != c.sessions {
			t.Errorf("self %d: %d sessions, want %d: %+v", c.self, len(found), c.sessions, found)
			continue
		}
		var own []string
		for _, s := range found {
			if s.Own {
				own = append(own, s.Client().String())
				if !strings.Contains(s.How, c.how) {
					t.Errorf("self %d: own because %q, want %q", c.self, s.How, c.how)
				}
			}
		}
		if want := strings.Fields(c.own); strings.Join(own, " ") != strings.Join(want, " ") {
			t.Errorf("self %d: own sessions %v, want %v", c.self, own, want)
		}
	}
	found := Find(root, snap, 700)
	if got := found[0].String(); got != "64001's SSH session on pts/3 from 198.51.100.7:50000" {
		t.Errorf("the first session reads %q", got)
	}
	if found[1].TTY != "pts/5" {
		t.Errorf("the second session's terminal: %q, want pts/5", found[1].TTY)
	}
}

// TestFindTmuxOfAnotherUser: a tmux client of another user is not a way
// into this server's sessions.
func TestFindTmuxOfAnotherUser(t *testing.T) {
	procs, snap := sshBox()
	for i := range procs {
		if procs[i].pid == 303 {
			procs[i].uid = 64003
		}
	}
	root := writeProc(t, procs)
	for _, s := range Find(root, snap, 402) {
		if s.Own {
			t.Errorf("own through another user's tmux client: %+v", s)
		}
	}
}

func TestTTYName(t *testing.T) {
	for nr, want := range map[uint64]string{0: "", pts(3): "pts/3", 137<<8 | 1: "pts/257", 4<<8 | 1: "tty1", 5<<8 | 1: "tty(5:1)"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
}
