package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/report"
)

// TestKillGuardsAndLoginAttempts: an admin logged in over SSH as a user of
// their own runs portwarden through sudo inside tmux, whose server is no
// child of sshd. Killing the sshd serving their own session, or the tmux
// server they are attached to, is refused without --force (and --dry-run
// says so); so is killing the sshd of another logged-in session (root's).
// A brute-forcer holding idle connections to sshd, where nobody logged
// in, is blocked without --force. Under "su -" the audit log names the
// human by the kernel's login uid. Nothing is killed.
func TestKillGuardsAndLoginAttempts(t *testing.T) {
	l := newSudoLogin(t, "pwkil")
	f, sshd, user := l.f, l.sshd, l.user
	flags := "--netns self --audit-log " + f.audit
	remote := func(who string, tty bool, command string) (string, int) { return l.run(t, who, tty, command) }

	// A second admin, root, logged in with a command that lasts.
	other := exec.Command(sshd.SSH(false, "sleep 120")[0], sshd.SSH(false, "sleep 120")[1:]...)
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })

	// The brute-forcer: idle connections from an address of its own.
	attacker := netip.AddrFrom4(f.peer.Host4.As4())
	attacker = netip.AddrFrom4([4]byte{attacker.As4()[0], attacker.As4()[1], attacker.As4()[2], attacker.As4()[3] + 40})
	remove, err := f.peer.AddHostAddress(attacker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Error(err)
		}
	})
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(attacker, 0)), Timeout: 5 * time.Second}
	for range 3 {
		c, err := d.Dial("tcp", netip.AddrPortFrom(f.peer.Peer4, uint16(sshd.Port)).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}

	// Inside tmux in the admin's session: a script the user can read, its
	// results where the user's shell can write. $1 is the session's sshd.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "inside.sh")
	body := fmt.Sprintf(`own=$1
tmuxd=$(tmux display -p '#{pid}')
rootd=$(pgrep -f '^sshd: root@notty' | head -n 1)
sudo %[1]s kill --yes $own %[2]s >%[3]s/own 2>&1; echo $? >%[3]s/own.code
sudo %[1]s kill --dry-run $own %[2]s >%[3]s/dry 2>&1; echo $? >%[3]s/dry.code
sudo %[1]s kill --yes $tmuxd %[2]s >%[3]s/tmux 2>&1; echo $? >%[3]s/tmux.code
sudo %[1]s kill --yes $rootd %[2]s >%[3]s/root 2>&1; echo $? >%[3]s/root.code
sudo %[1]s block --yes --for 10m %[4]s %[2]s >%[3]s/block 2>&1; echo $? >%[3]s/block.code
sudo sh -c 'echo '$(id -u)' >/proc/self/loginuid && exec su - -c "%[1]s kill --yes '$own' %[2]s"' >%[3]s/su 2>&1; echo $? >%[3]s/su.code
`, f.bin, flags, dir, attacker)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "root's second session", func() bool {
		out, _ := exec.Command("pgrep", "-f", "^sshd: root@notty").Output()
		return len(out) > 0
	})
	// The attacker's connections read as login attempts; root's session,
	// logged in, does not.
	waitUntil(t, "the brute-forcer's connections as login attempts", func() bool {
		out, err := exec.Command(f.bin, "snapshot", "--json", "--tcp", "--netns", f.peer.Name, "--baseline", filepath.Join(t.TempDir(), "b.toml")).Output()
		if err != nil {
			return false
		}
		var snap report.Snapshot
		if json.Unmarshal(out, &snap) != nil {
			return false
		}
		attempts, sessions := 0, 0
		for _, s := range snap.Sockets {
			if s.State != "ESTABLISHED" || s.LocalPort != uint16(sshd.Port) {
				continue
			}
			switch {
			case s.LoginAttempt && s.RemoteIP == attacker.String():
				attempts++
			case !s.LoginAttempt && s.RemoteIP == f.peer.Host4.String():
				sessions++
			}
		}
		return attempts == 3 && sessions >= 1
	})

	if out, code := remote(user, true, `tmux new-session "sh `+script+` $PPID"`); code != 0 {
		t.Fatalf("tmux in the session: exit %d\n%s", code, out)
	}
	read := func(name string) (string, string) {
		out, _ := os.ReadFile(filepath.Join(dir, name))
		code, _ := os.ReadFile(filepath.Join(dir, name+".code"))
		return string(out), strings.TrimSpace(string(code))
	}
	for _, c := range []struct{ name, code, want string }{
		{"own", "1", "YOUR OWN SSH SESSION"},
		{"dry", "1", "a real run would refuse this"},
		{"tmux", "1", "your own session"},
		{"root", "1", "root's SSH session"},
		{"block", "0", ""},
		{"su", "1", "YOUR OWN SSH SESSION"},
	} {
		out, code := read(c.name)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %s, want %s and %q\n%s", c.name, code, c.code, c.want, out)
		}
	}
	if out, _ := read("block"); strings.Contains(out, "SSH session") || strings.Contains(out, "--force") {
		t.Errorf("blocking the brute-forcer spoke of a session:\n%s", out)
	}
	var su, killsRefused int
	for _, r := range readAudit(t, f.audit) {
		if r.Action == "kill" && r.Result == "refused" {
			killsRefused++
		}
		if r.Action == "kill" && r.User == user && r.Effective == "root" {
			su++
		}
	}
	if killsRefused < 4 || su == 0 {
		t.Errorf("audit: %d kills refused (want 4), %d naming %s with effective user root (want every one): %+v", killsRefused, su, user, readAudit(t, f.audit))
	}
}

// TestKillGuardFromReattachedScreen: an admin starts a screen session in
// one SSH login, logs out, logs in again and reattaches it. The sshd of the
// new login serves the session portwarden now runs in (through the screen
// client attached from it): killing it is refused without --force.
func TestKillGuardFromReattachedScreen(t *testing.T) {
	if _, err := exec.LookPath("screen"); err != nil {
		t.Skip("screen is not installed (scripts/test.sh installs it)")
	}
	l := newSudoLogin(t, "pwscr")
	f, user := l.f, l.user
	remote := func(tty bool, command string) (string, int) { return l.run(t, user, tty, command) }
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// The script waits (with a deadline) for the screen to be reattached,
	// then asks portwarden to kill the sshd of the one login left: the new
	// one, which the screen client runs in.
	script := filepath.Join(dir, "inside.sh")
	body := fmt.Sprintf(`n=0
until screen -ls pwtest | grep -q Attached; do n=$((n+1)); [ $n -gt 600 ] && exit 1; sleep 0.1; done
own=$(pgrep -f '^sshd: %[1]s@' | head -n 1)
sudo %[2]s kill --yes $own --netns self --audit-log %[3]s >%[4]s/own 2>&1; echo $? >%[4]s/own.code
`, user, f.bin, f.audit, dir)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, code := remote(false, "screen -dmS pwtest sh "+script); code != 0 {
		t.Fatalf("screen -dmS: exit %d\n%s", code, out)
	}
	// A new login reattaches; it returns when the script, and screen, end.
	if out, code := remote(true, "screen -r pwtest"); code != 0 {
		t.Fatalf("screen -r in a new login: exit %d\n%s", code, out)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "own"))
	code, _ := os.ReadFile(filepath.Join(dir, "own.code"))
	if strings.TrimSpace(string(code)) != "1" || !strings.Contains(string(out), "YOUR OWN SSH SESSION") || !strings.Contains(string(out), "screen") {
		t.Errorf("kill of the reattaching login's sshd from screen: exit %q, want a refusal found through screen\n%s", code, out)
	}
}
