package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHistoryDBSaysTheRealReason gives the real binary's record and
// history every --db that cannot work, and wants the reason said — not
// SQLite's "unable to open database file" or a valid file called damaged:
// a directory, a file on procfs, a read-only mount (read there all the
// same), a user who may not write it or its log's index, a record another
// recorder holds (named by its PID).
func TestHistoryDBSaysTheRealReason(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: another user, a mount namespace")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // open to another user, as /var/lib is
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "history.db")
	// A valid record: a recorder that ran and stopped cleanly.
	rec := exec.Command(bin, "record", "--db", db, "--source", "poll")
	out, _ := rec.StdoutPipe()
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() { // its first status line: recording
		t.Fatalf("the recorder said nothing: %v", lines.Err())
	}
	_, errOut, code := runBin(t, bin, "record", "--db", db, "--source", "poll")
	if want := "another recorder, pid " + strconv.Itoa(rec.Process.Pid) + " (portwarden), is writing " + db; code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("a second recorder: exit %d, %q; want %q", code, errOut, want)
	}
	rec.Process.Signal(os.Interrupt)
	if err := rec.Wait(); err != nil {
		t.Fatalf("the recorder: %v", err)
	}
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}

	nobody := func(args ...string) []string {
		return append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)
	}
	readOnly := func(args ...string) []string {
		return []string{"unshare", "--mount", "sh", "-c", `mount --bind -o ro "$0" "$0" && exec "$@"`, dir, bin, args[0], args[1], args[2]}
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a directory", []string{bin, "history", "--db", dir}, dir + " is a directory, not a database file"},
		{"procfs", []string{bin, "record", "--db", "/proc/self/history.db"}, "is on procfs, where no database can be kept"},
		{"another user reading", nobody("history", "--db", db), "reading it needs write access to " + db + "-shm"},
		{"another user recording", nobody("record", "--db", db), "permission denied: uid 65534 may not write it (owned by uid 0, mode 0644)"},
		{"a read-only mount, recording", readOnly("record", "--db", db), "the filesystem holding " + dir + " is mounted read-only"},
	} {
		out, err := exec.Command(c.args[0], c.args[1:]...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), c.want) || strings.Contains(string(out), "damaged") {
			t.Errorf("%s: %v %s; want exit 2 saying %q", c.name, err, out, c.want)
		}
	}
	// A valid record on a read-only mount is read, not called damaged.
	args := readOnly("history", "--db", db)
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil || !strings.Contains(string(out), "FIRST SEEN") {
		t.Errorf("reading on a read-only mount: %v %s", err, out)
	}
}
