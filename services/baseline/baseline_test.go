package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// writerEnv turns the test binary into a concurrent baseline writer.
const writerEnv = "PORTWARDEN_TEST_BASELINE_WRITER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(writerEnv); spec != "" {
		// "PATH ID COUNT": add COUNT entries, one Add each.
		f := strings.Fields(spec)
		id, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		for i := range n {
			e := Entry{Proto: "tcp", Port: uint16(10000 + id*1000 + i), Reason: "writer " + f[1], Owner: "test"}
			if err := Add(f[0], e); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func sock(proto sockets.Proto, local string, procs ...*sockets.Process) *sockets.Socket {
	return &sockets.Socket{Proto: proto, Local: netip.MustParseAddrPort(local), State: sockets.Listen, Processes: procs}
}

func TestRoundTripAndMatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "baseline.toml")
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	err := Add(path,
		Entry{Proto: "tcp", Port: 22, Reason: "admin \"SSH\"\naccess", Owner: "ops", Added: day},
		Entry{Proto: "tcp", Port: 5432, Bind: "127.0.0.1", Process: "postgres", Reason: "app database", Owner: "dba", Added: day},
		Entry{Proto: "udp", Port: 53, Exe: "/usr/sbin/dnsmasq", Reason: "local DNS", Owner: "ops", Added: day},
	)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Exists || len(b.Entries) != 3 {
		t.Fatalf("loaded %d entries (exists %v), want 3", len(b.Entries), b.Exists)
	}
	if e := b.Entries[0]; e.Reason != "admin \"SSH\"\naccess" || e.Owner != "ops" || !e.Added.Equal(day) {
		t.Errorf("entry did not round-trip: %+v", e)
	}
	pg := &sockets.Process{Name: "postgres", Exe: "/usr/lib/postgresql/15/bin/postgres"}
	dns := &sockets.Process{Name: "dnsmasq", Exe: "/usr/sbin/dnsmasq"}
	tests := []struct {
		s    *sockets.Socket
		want string
	}{
		{sock(sockets.TCP, "0.0.0.0:22"), "tcp/22"},
		{sock(sockets.TCP, "[::]:22"), "tcp/22"},
		{sock(sockets.UDP, "0.0.0.0:22"), ""},
		{sock(sockets.TCP, "127.0.0.1:5432", pg), "tcp/5432 on 127.0.0.1 by postgres"},
		{sock(sockets.TCP, "[::ffff:127.0.0.1]:5432", pg), "tcp/5432 on 127.0.0.1 by postgres"},
		{sock(sockets.TCP, "0.0.0.0:5432", pg), ""},
		{sock(sockets.TCP, "127.0.0.1:5432", dns), ""},
		{sock(sockets.UDP, "127.0.0.53:53", dns), "udp/53 (/usr/sbin/dnsmasq)"},
		{sock(sockets.UDP, "127.0.0.53:53", pg), ""},
	}
	for _, tt := range tests {
		got := ""
		if e := b.Match(tt.s, Where{}); e != nil {
			got = e.Key()
		}
		if got != tt.want {
			t.Errorf("%s %v: matched %q, want %q", tt.s.Proto, tt.s.Local, got, tt.want)
		}
	}
}

func TestRemoveKeepsTheRestOfTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline")
	text := `# our open ports, reviewed quarterly
internal_networks = ["203.0.113.0/24", "2001:db8:100::/48"]

# SSH stays
[[listener]]
proto = "tcp"
port = 22
reason = "ssh"
owner = "ops"
added = 2026-01-01

[[listener]]
proto = "tcp"
port = 8080
reason = "old app"   # to go
owner = "dev"
added = 2026-01-02
`
	os.WriteFile(path, []byte(text), 0o600)
	n, err := Remove(path, func(e Entry) bool { return e.Port == 8080 })
	if err != nil || n != 1 {
		t.Fatalf("removed %d: %v", n, err)
	}
	got, _ := os.ReadFile(path)
	want := text[:strings.Index(text, "[[listener]]\nproto = \"tcp\"\nport = 8080")]
	if string(got) != want {
		t.Errorf("after remove:\n%s\nwant:\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Internal) != 2 || b.Internal[0].String() != "203.0.113.0/24" || len(b.Entries) != 1 {
		t.Errorf("internal %v, entries %d", b.Internal, len(b.Entries))
	}
}

func TestCorruptFileIsReportedAndNeverOverwritten(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"syntax", "[[listener]]\nproto = \"tcp\"\nport = = 22\n", ":3:8:"},
		{"unknown key", "[[listener]]\nproto = \"tcp\"\nport = 22\nportt = 23\n", `unknown key "listener.portt"`},
		{"bad proto", "[[listener]]\nproto = \"sctp\"\nport = 22\n", `proto "sctp"`},
		{"bad cidr", "internal_networks = [\"10.0.0.0/33\"]\n", "not a network in CIDR form"},
		{"bad bind", "[[listener]]\nproto = \"tcp\"\nport = 22\nbind = \"eth0\"\n", "not an IP address"},
		{"port range", "[[listener]]\nproto = \"tcp\"\nport = 70000\n", "70000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "baseline.toml")
			os.WriteFile(path, []byte(c.text), 0o644)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load error %v, want one containing %q", err, c.want)
			}
			if err := Add(path, Entry{Proto: "tcp", Port: 80, Reason: "web", Owner: "ops"}); err == nil {
				t.Error("Add succeeded on a corrupt file")
			}
			if _, err := Remove(path, func(Entry) bool { return true }); err == nil {
				t.Error("Remove succeeded on a corrupt file")
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, []byte(c.text)) {
				t.Errorf("corrupt file was changed:\n%s", got)
			}
		})
	}
}

// TestConcurrentWritersLoseNothing runs several real processes adding
// entries to one file at once; the lock and re-read keep every mark.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.toml")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 15
	var cmds []*exec.Cmd
	for id := range writers {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", writerEnv, path, id, each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %d: %v", cmd.Process.Pid, err)
		}
	}
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Entries) != writers*each {
		t.Errorf("%d entries after %d concurrent adds: marks were lost", len(b.Entries), writers*each)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".baseline.toml.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestMissingFileIsAnEmptyBaseline(t *testing.T) {
	b, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err != nil || b.Exists || len(b.Entries) != 0 {
		t.Errorf("missing file: %+v, %v", b, err)
	}
}

func TestDefaultPath(t *testing.T) {
	if os.Geteuid() == 0 {
		if got := DefaultPath(); got != "/etc/portwarden/baseline.toml" {
			t.Errorf("root's default %q", got)
		}
		return
	}
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg")
	if got := DefaultPath(); got != "/tmp/xdg/portwarden/baseline.toml" {
		t.Errorf("user's default %q", got)
	}
}

// TestAddTwiceAndNoLitter: adding an entry already there writes nothing
// and says so, and no lock file is left beside the baseline.
func TestAddTwiceAndNoLitter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "baseline.toml")
	e := Entry{Proto: "tcp", Port: 8080, Bind: "127.0.0.1", Reason: "lab", Owner: "ops"}
	if err := Add(path, e); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	e.Reason = "said again"
	if err := Add(path, e); !errors.Is(err, ErrPresent) {
		t.Errorf("second add: %v, want ErrPresent", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the second add wrote:\n%s", after)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 1 {
		t.Errorf("files beside the baseline: %v", names)
	}
}

// TestEntryNamingAContainer covers a port only in that container (or
// image), so a container's documented port says nothing of the host's.
func TestEntryNamingAContainer(t *testing.T) {
	s := &sockets.Socket{Proto: sockets.TCP, Local: netip.MustParseAddrPort("[::]:5432"), State: sockets.Listen}
	e := Entry{Proto: "tcp", Port: 5432, Container: "db1"}
	if !e.Covers(s, Where{Container: "db1", Image: "postgres:16"}) || e.Covers(s, Where{}) || e.Covers(s, Where{Container: "db2"}) {
		t.Error("an entry naming container db1 covers the wrong sockets")
	}
	img := Entry{Proto: "tcp", Port: 5432, Image: "postgres:16"}
	if !img.Covers(s, Where{Container: "db2", Image: "postgres:16"}) || img.Covers(s, Where{Container: "db2", Image: "mysql"}) {
		t.Error("an entry naming an image covers the wrong sockets")
	}
	if k := e.Key(); k != "tcp/5432 in container db1" {
		t.Errorf("Key = %q", k)
	}
}

// TestSignAcks: an acknowledgement names one sign, one absolute path and
// a reason; anything less is an error naming it, never a blanket silence.
func TestSignAcks(t *testing.T) {
	good := "[[sign]]\nsign = \"exe-unpackaged\"\nexe = \"/opt/agent\"\nreason = \"vendor agent\"\nowner = \"ops\"\n"
	b, err := parse("b.toml", good)
	if err != nil {
		t.Fatal(err)
	}
	if a := b.Acknowledged("exe-unpackaged", "/opt/agent"); a == nil || a.Reason != "vendor agent" {
		t.Errorf("the acknowledgement is not found: %+v", b.Signs)
	}
	if b.Acknowledged("exe-unpackaged", "/opt/other") != nil || b.Acknowledged("exe-modified", "/opt/agent") != nil {
		t.Error("an acknowledgement covers another sign or binary")
	}
	for _, bad := range []string{
		"[[sign]]\nsign = \"exe-unpackaged\"\nreason = \"x\"\n",
		"[[sign]]\nsign = \"exe-unpackaged\"\nexe = \"agent\"\nreason = \"x\"\n",
		"[[sign]]\nexe = \"/opt/agent\"\nreason = \"x\"\n",
		"[[sign]]\nsign = \"exe-unpackaged\"\nexe = \"/opt/agent\"\n",
	} {
		if _, err := parse("b.toml", bad); err == nil || !strings.Contains(err.Error(), "sign 1") {
			t.Errorf("%q: %v, want an error naming sign 1", bad, err)
		}
	}
}
