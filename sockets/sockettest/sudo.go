//go:build linux

package sockettest

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SudoUserForTest makes a user who logs in to sshd with its client key
// and may run anything through sudo without a password, as an admin does
// on a Debian box (whose sudo resets the environment: SSH_CONNECTION does
// not reach the command). The user, its home and the sudoers file are
// removed when the test ends, on failure too.
func SudoUserForTest(t testing.TB, sshd *SSHD, name string) {
	t.Helper()
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Fatal("sudo is required (scripts/test.sh installs it)")
	}
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	sudoers := filepath.Join("/etc/sudoers.d", name)
	t.Cleanup(func() {
		os.Remove(sudoers)
		endProcessesOf(t, name)
		if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	// "*" is no password, but not a locked account: sshd without PAM
	// refuses a locked one even with a key.
	if out, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v: %s", err, out)
	}
	if err := os.WriteFile(sudoers, []byte(name+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	// sshd reads authorized keys as the user: let it reach the file.
	for dir := sshd.dir; dir != "/" && dir != os.TempDir(); dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(sshd.dir, "authorized_keys"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// endProcessesOf waits for the processes of the test's own user name to
// end — a tmux or screen server outlives its last window by a moment, and
// longer on a busy machine — and ends, by PID, any still there after a
// generous deadline: they were all started through the test's sshd.
func endProcessesOf(t testing.TB, name string) {
	u, err := user.Lookup(name)
	if err != nil {
		return
	}
	uid, _ := strconv.Atoi(u.Uid)
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := processesOf(uid)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Logf("ended %d processes of %s still running %v after the test", len(pids), name, pids)
			// They are gone once the kernel has reaped them.
			for end := time.Now().Add(10 * time.Second); len(processesOf(uid)) > 0 && time.Now().Before(end); {
				time.Sleep(20 * time.Millisecond) // polling /proc, with a deadline
			}
			return
		}
		time.Sleep(50 * time.Millisecond) // polling /proc, with a deadline
	}
}

// processesOf lists the live processes whose real user is uid (zombies,
// already ended, are not).
func processesOf(uid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		var state string
		ruid := -1
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "State:"):
				state = strings.TrimSpace(strings.TrimPrefix(line, "State:"))
			case strings.HasPrefix(line, "Uid:"):
				if f := strings.Fields(strings.TrimPrefix(line, "Uid:")); len(f) > 0 {
					ruid, _ = strconv.Atoi(f[0])
				}
			}
		}
		if ruid == uid && !strings.HasPrefix(state, "Z") {
			out = append(out, pid)
		}
	}
	return out
}
