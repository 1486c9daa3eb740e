package signs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets"
)

// rpmRootForTest makes a tree whose var/lib/rpm/rpmdb.sqlite, written by
// the real rpm, records one package owning /usr/bin/sleep with the content
// of content: the real sleep, or another file.
func rpmRootForTest(t *testing.T, content string) string {
	t.Helper()
	for _, c := range []string{"rpm", "rpmbuild"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is required (scripts/test.sh installs rpm)", c)
		}
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "pw.spec")
	if err := os.WriteFile(spec, []byte(fmt.Sprintf(`Name: pwtest
Version: 1
Release: 1
Summary: portwarden test package
License: MIT
%%description
Owns /usr/bin/sleep, for portwarden's tests.
%%install
mkdir -p %%{buildroot}/usr/bin
cp %s %%{buildroot}/usr/bin/sleep
%%files
/usr/bin/sleep
`, content)), 0o644); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "top")
	// No stripping or build-id links: the packaged file is the file.
	build := exec.Command("rpmbuild", "-bb", "--define", "_topdir "+top, "--define", "debug_package %{nil}",
		"--define", "__os_install_post %{nil}", "--define", "_build_id_links none", spec)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("rpmbuild made %v", rpms)
	}
	root := filepath.Join(dir, "root")
	db := filepath.Join(root, "var/lib/rpm")
	if err := os.MkdirAll(db, 0o755); err != nil {
		t.Fatal(err)
	}
	// --justdb records the package without writing a file of it.
	install := exec.Command("rpm", "--dbpath", db, "-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch", "--ignoreos", rpms[0])
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(db, "rpmdb.sqlite")); err != nil {
		t.Fatalf("rpm wrote no SQLite database: %v", err)
	}
	return root
}

// running starts a program and returns it as the collector would.
func running(t *testing.T, exe string, args ...string) *sockets.Process {
	t.Helper()
	cmd := exec.Command(exe, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &sockets.Process{PID: cmd.Process.Pid, Name: filepath.Base(exe)}
}

func codes(found []Sign) []Code {
	var out []Code
	for _, s := range found {
		out = append(out, s.Code)
	}
	return out
}

func noNetwork(uint64) (string, bool) { return "", false }

// TestRPMDatabase: on a host with rpm's database and no dpkg's, a binary
// a package owns with the content it recorded shows nothing, one whose
// content differs shows exe-modified (by the SHA-256 rpm records), and one
// no package owns shows exe-unpackaged.
func TestRPMDatabase(t *testing.T) {
	sleep := running(t, "/usr/bin/sleep", "60")
	yes := running(t, "/usr/bin/yes")

	good := NewReader("/proc", rpmRootForTest(t, "/usr/bin/sleep"))
	found, warnings := good.Of(sleep, noNetwork)
	if len(found) != 0 || len(warnings) != 0 {
		t.Errorf("the packaged sleep: signs %v, warnings %v; want none", codes(found), warnings)
	}
	found, _ = good.Of(yes, noNetwork)
	if !slices.Contains(codes(found), ExeUnpackaged) {
		t.Errorf("yes, which no rpm owns: %v, want exe-unpackaged", codes(found))
	}

	swapped := NewReader("/proc", rpmRootForTest(t, "/usr/bin/true"))
	found, warnings = swapped.Of(sleep, noNetwork)
	i := slices.IndexFunc(found, func(s Sign) bool { return s.Code == ExeModified })
	if i < 0 || !strings.Contains(found[i].Detail, "SHA256") || !strings.Contains(found[i].Detail, "pwtest") {
		t.Errorf("sleep whose package recorded another content: %+v %v, want exe-modified by SHA256 naming pwtest", found, warnings)
	}
}

// TestRPMDatabaseNotRead: an rpm database in a format not read is said,
// and nothing is guessed.
func TestRPMDatabaseNotRead(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/rpm/Packages"), []byte("berkeley"), 0o644); err != nil {
		t.Fatal(err)
	}
	found, warnings := NewReader("/proc", root).Of(running(t, "/usr/bin/sleep", "60"), noNetwork)
	if slices.Contains(codes(found), ExeUnpackaged) || slices.Contains(codes(found), ExeModified) {
		t.Errorf("guessed: %v", codes(found))
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Berkeley DB or ndb") {
		t.Errorf("warnings %v, want one naming the format not read", warnings)
	}
	if _, err := parseRPMHeader([]byte{0, 0, 0, 9, 0, 0, 0, 1}); err == nil {
		t.Error("a header whose index runs past its end parsed")
	}
}
