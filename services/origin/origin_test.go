package origin

import (
	"os"
	"testing"
)

func TestUnit(t *testing.T) {
	tests := map[string]string{
		"/system.slice/nginx.service":                              "nginx.service",
		"/system.slice/system-getty.slice/getty@tty1.service":      "getty@tty1.service",
		"/user.slice/user-1000.slice/session-3.scope":              "session-3.scope",
		"/system.slice/docker-abc.scope/init.scope":                "init.scope",
		"/box/system.slice/redis-server.service":                   "redis-server.service",
		"/system.slice/containerd.service/kubepods/burstable/podx": "containerd.service",
		"/": "", "": "", "/process_api/4178": "",
	}
	for cg, want := range tests {
		if got := Unit(cg); got != want {
			t.Errorf("Unit(%q) = %q, want %q", cg, got, want)
		}
	}
}

func TestDescribeRealChain(t *testing.T) {
	// This test process's chain ends at PID 1 and starts at our parent.
	info := Describe("/proc", os.Getpid(), os.Getppid(), "")
	if len(info.Parents) == 0 || info.Parents[0].PID != os.Getppid() {
		t.Fatalf("chain %+v does not start at our parent %d", info.Parents, os.Getppid())
	}
	if last := info.Parents[len(info.Parents)-1]; last.PID != 1 {
		t.Errorf("chain ends at %+v, want PID 1", last)
	}
	if info.Inetd != "" {
		t.Errorf("go test is not an inetd service: %q", info.Inetd)
	}
	if gone := Describe("/proc", 1<<30, 1<<30-1, ""); len(gone.Parents) != 0 {
		t.Errorf("vanished parent gave a chain: %+v", gone)
	}
}

// TestDescribeFixture reads a parent chain from the /proc tree captured
// in sockets/testdata/proc: sshd's session process, its sshd, and init;
// a hostile name with parentheses is read whole.
func TestDescribeFixture(t *testing.T) {
	const proc = "../../sockets/testdata/proc"
	info := Describe(proc, 990, 812, "/system.slice/ssh.service")
	if len(info.Parents) != 2 || info.Parents[0] != (Ancestor{PID: 812, Name: "sshd"}) || info.Parents[1] != (Ancestor{PID: 1, Name: "systemd"}) {
		t.Errorf("parents of the session process: %+v", info.Parents)
	}
	if name, ppid, ok := readStat(proc, 4242); !ok || name != "evil) (x" || ppid != 1 {
		t.Errorf("hostile stat: %q %d %v", name, ppid, ok)
	}
	if _, _, ok := readStat(proc, 555); ok {
		t.Error("a malformed stat parsed")
	}
	// A chain that runs into a missing process ends there.
	if info := Describe(proc, 7000, 31337, ""); len(info.Parents) != 0 {
		t.Errorf("parents through a vanished process: %+v", info.Parents)
	}
}
