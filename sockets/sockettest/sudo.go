//go:build linux

package sockettest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
