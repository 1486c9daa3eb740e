package session

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets"
)

// writeTitles gives fake processes their command lines, NUL-separated
// as the kernel keeps them.
func writeTitles(t *testing.T, root string, titles map[int]string) {
	t.Helper()
	for pid, title := range titles {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.ReplaceAll(title, " ", "\x00")+"\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Titles as OpenSSH 9.2 and 9.8 write them: a connection is a login
// attempt while every holder is titled and none "user@tty"; Dropbear's
// and unreadable titles are never taken for one; a session with a process
// below its server that is not the server (a shell) is no attempt.
func TestLoginAttempt(t *testing.T) {
	conn := func(holders ...*sockets.Process) *sockets.Socket {
		return &sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Processes: holders}
	}
	sshd := func(pid int, title string) *sockets.Process {
		return &sockets.Process{PID: pid, Name: "sshd", Cmdline: strings.Fields(title)}
	}
	for _, c := range []struct {
		name string
		s    *sockets.Socket
		want bool
	}{
		{"accepted", conn(sshd(11, "sshd: [accepted]")), true},
		{"authenticating", conn(sshd(11, "sshd: root [priv]"), sshd(12, "sshd: root [net]")), true},
		{"9.8", conn(&sockets.Process{PID: 20, Name: "sshd-session", Cmdline: []string{"sshd-session: root [priv]"}},
			&sockets.Process{PID: 21, Name: "sshd-auth", Cmdline: []string{"sshd-auth: [net]"}}), true},
		{"logged in", conn(sshd(11, "sshd: alice [priv]"), sshd(12, "sshd: alice@pts/0")), false},
		{"logged in, no terminal", conn(sshd(12, "sshd: alice@notty")), false},
		{"unreadable title", conn(&sockets.Process{PID: 30, Name: "sshd"}), false},
		{"untitled sshd (its listener's argv)", conn(sshd(31, "/usr/sbin/sshd -D")), false},
		{"the listener's title", conn(sshd(32, "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")), false},
		{"dropbear", conn(&sockets.Process{PID: 40, Name: "dropbear", Cmdline: []string{"/usr/sbin/dropbear", "-F"}}), false},
		{"no holder", conn(), false},
	} {
		if got := LoginAttempt(c.s); got != c.want {
			t.Errorf("%s: LoginAttempt %v, want %v", c.name, got, c.want)
		}
	}
	procs := []fakeProc{{pid: 11, ppid: 1, name: "sshd"}, {pid: 12, ppid: 11, name: "sshd"}, {pid: 13, ppid: 12, name: "bash"}}
	tr := newTree(processTable(writeProc(t, procs)))
	s := conn(sshd(11, "sshd: root [priv]"), sshd(12, "sshd: root [net]"))
	if preAuth(s, tr, []int{11, 12, 13}) {
		t.Error("a session with a shell below its server: taken for a login attempt")
	}
	if !preAuth(s, tr, []int{11, 12}) {
		t.Error("an attempt with only its server's processes: not taken for one")
	}
}

// sshd's listener title past MaxStartups' start and at full warns; below
// it says nothing.
func TestMaxStartups(t *testing.T) {
	root := t.TempDir()
	writeTitles(t, root, map[int]string{5: "sshd: /usr/sbin/sshd -D [listener] 3 of 10-100 startups",
		6: "sshd: /usr/sbin/sshd -D [listener] 12 of 10-100 startups", 7: "sshd: /usr/sbin/sshd -D [listener] 100 of 10-100 startups"})
	listen := func(pid int, port uint16) sockets.Socket {
		return sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.AddrPortFrom(netip.IPv4Unspecified(), port),
			Processes: []*sockets.Process{{PID: pid, Name: "sshd"}}}
	}
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{listen(5, 22), listen(6, 2222), listen(7, 2223)}}
	got := MaxStartups(root, snap)
	if len(got) != 2 || !strings.Contains(got[0], "drops new logins at random: 12") || !strings.Contains(got[1], "refuses every new login: 100") {
		t.Errorf("warnings %q", got)
	}
}
