package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestGuardsUnderSudoOverSSH: an admin logs in over SSH as a user of their
// own (from a namespace peer) and runs portwarden through sudo, which
// drops SSH_CONNECTION. Blocking or closing their own address is still
// refused and named as their own session — run from the login shell, and
// from inside tmux started in that session, whose server is no child of
// sshd. Nothing is blocked or cut, and the refusals are recorded.
func TestGuardsUnderSudoOverSSH(t *testing.T) {
	l := newSudoLogin(t, "pwadm")
	f, user := l.f, l.user
	flags := "--netns self --audit-log " + f.audit
	remote := func(tty bool, command string) (string, int) { return l.run(t, user, tty, command) }
	me := f.peer.Host4.String()

	for _, action := range []string{"block --yes " + me, "close --yes --peer " + me} {
		out, code := remote(false, "sudo "+f.bin+" "+action+" "+flags)
		if code != 1 || !strings.Contains(out, "YOUR OWN SSH SESSION") || !strings.Contains(out, user+"'s SSH session") || !strings.Contains(out, "--force") {
			t.Errorf("sudo portwarden %s: exit %d, want a refusal naming %s's own session\n%s", action, code, user, out)
		}
	}

	// In tmux: the command runs under the tmux server, and reaches the
	// session only through the client attached from it.
	dir := t.TempDir()
	result, exit := filepath.Join(dir, "out"), filepath.Join(dir, "code")
	inner := fmt.Sprintf("%s block --yes %s %s >%s 2>&1; echo \\$? >%s", f.bin, me, flags, result, exit)
	if out, code := remote(true, fmt.Sprintf(`tmux new-session "sudo sh -c '%s'"`, inner)); code != 0 {
		t.Fatalf("tmux in the session: exit %d\n%s", code, out)
	}
	out, _ := os.ReadFile(result)
	code, _ := os.ReadFile(exit)
	if strings.TrimSpace(string(code)) != "1" || !strings.Contains(string(out), "YOUR OWN SSH SESSION") || !strings.Contains(string(out), "tmux") {
		t.Errorf("sudo portwarden block in tmux: exit %q, want a refusal found through tmux\n%s", code, out)
	}

	if out, _ := f.peer.Command("nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), "portwarden") {
		t.Errorf("a refused block made a table:\n%s", out)
	}
	refused := 0
	for _, r := range readAudit(t, f.audit) {
		if r.Result == "refused" {
			refused++
		}
	}
	if refused < 3 {
		t.Errorf("%d refusals in the audit log, want 3: %+v", refused, readAudit(t, f.audit))
	}
}

// sudoLogin is a user of the test's own (prefix and this process's PID)
// with sudo, who can log in over SSH, from the host, to an sshd in the
// fixture's namespace.
type sudoLogin struct {
	f    *nsFixture
	sshd *sockettest.SSHD
	user string
}

// newSudoLogin starts the sshd, makes the user, and waits until a login
// with sudo works.
func newSudoLogin(t *testing.T, prefix string) *sudoLogin {
	t.Helper()
	f := newNSFixture(t)
	sshd, err := sockettest.StartSSHDAt(t.TempDir(), f.peer.Peer4, f.peer.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sshd.Stop)
	l := &sudoLogin{f: f, sshd: sshd, user: fmt.Sprintf("%s%d", prefix, os.Getpid()%100000)}
	sockettest.SudoUserForTest(t, sshd, l.user)
	waitUntil(t, "an SSH login with sudo", func() bool { _, code := l.run(t, l.user, false, "sudo -n true"); return code == 0 })
	return l
}

// run logs in as who (the user, or root) and runs command; tty asks for
// a terminal.
func (l *sudoLogin) run(t *testing.T, who string, tty bool, command string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := l.sshd.SSHAs(who, tty, command)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	return combinedOutput(t, cmd)
}
