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

// Titles as OpenSSH 9.2 and 9.8 write them: a login attempt is one until
// a "user@tty" process or a process that is not the server is below it;
// a title that cannot be read counts as a login.
func TestPreAuth(t *testing.T) {
	procs := []fakeProc{{pid: 10, ppid: 1, name: "sshd"}, {pid: 11, ppid: 10, name: "sshd"}, {pid: 12, ppid: 11, name: "sshd"},
		{pid: 13, ppid: 12, name: "bash"}, {pid: 20, ppid: 10, name: "sshd-session"}, {pid: 21, ppid: 20, name: "sshd-auth"},
		{pid: 30, ppid: 10, name: "sshd"}}
	root := writeProc(t, procs)
	writeTitles(t, root, map[int]string{11: "sshd: alice [priv]", 12: "sshd: alice@pts/0",
		20: "sshd-session: root [priv]", 21: "sshd-auth: root [net]"})
	tr := newTree(processTable(root))
	for _, c := range []struct {
		members []int
		want    bool
	}{
		{[]int{11, 12, 13}, false}, // logged in, with a shell
		{[]int{11, 12}, false},     // logged in, a command without a process of its own yet
		{[]int{20, 21}, true},      // still authenticating
		{[]int{30}, false},         // no title to read: a login, to be safe
	} {
		if got := preAuth(root, tr, c.members); got != c.want {
			t.Errorf("members %v: preAuth %v, want %v", c.members, got, c.want)
		}
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
