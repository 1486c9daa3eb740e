package disable

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

func TestMain(m *testing.M) {
	sockettest.RunIfChild()
	os.Exit(m.Run())
}

// listener waits until something listens on 127.0.0.1:port (want true) or
// nothing does (want false), and returns the socket.
func listener(t *testing.T, port int, want bool) *sockets.Socket {
	t.Helper()
	return listenerAt(t, "127.0.0.1", port, want)
}

// listenerAt is listener for any local address. It looks only in the
// test's own network namespace, where its daemons listen: on a busy
// machine other namespaces hold the same ports (a container's sshd on 22).
func listenerAt(t *testing.T, addr string, port int, want bool) *sockets.Socket {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		snap, err := sockets.NewCollector().Collect(sockets.Query{ListeningOnly: true, TCP: true, NetNS: "self"})
		if err != nil {
			t.Fatal(err)
		}
		var found *sockets.Socket
		for i := range snap.Sockets {
			if s := &snap.Sockets[i]; int(s.Local.Port()) == port && s.Local.Addr().String() == addr {
				found = s
			}
		}
		if (found != nil) == want {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d: listening=%v after 30s, want %v", port, found != nil, want)
		}
		time.Sleep(50 * time.Millisecond) // polling the socket table, with a deadline
	}
}

// TestDisableRealXinetd runs xinetd with its own configuration, serving
// its internal echo on a loopback port, and disables that service.
func TestDisableRealXinetd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("xinetd needs root")
	}
	x, err := sockettest.StartXinetd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Stop()
	port, svcFile, service := x.Port, x.ServiceFile, x.Service
	s := listener(t, port, true)
	if len(s.Processes) == 0 || s.Processes[0].PID != x.PID() {
		t.Fatalf("port %d is not held by our xinetd %d: %+v", port, x.PID(), s.Processes)
	}
	plan, err := For(Env{ProcRoot: "/proc", Services: "/etc/services"}, s, Disable)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Manager != "xinetd" || plan.Service != "echo" || len(plan.Steps) != 2 ||
		!strings.Contains(plan.Steps[0].Describe, svcFile) || !strings.Contains(plan.Steps[1].Describe, "SIGHUP") {
		t.Fatalf("plan: %+v", plan)
	}
	if b, _ := os.ReadFile(svcFile); string(b) != service {
		t.Fatal("planning changed the file")
	}
	if err := plan.Run(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(svcFile)
	if !strings.Contains(string(b), "disable\t\t= yes") || strings.Contains(string(b), "disable     = no") || !strings.HasPrefix(string(b), "# a test service") {
		t.Errorf("service file after disable:\n%s", b)
	}
	backups, _ := filepath.Glob(svcFile + ".portwarden-*")
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if orig, _ := os.ReadFile(backups[0]); string(orig) != service {
		t.Errorf("backup differs from the original")
	}
	listener(t, port, false)
	if !sockettest.Running(x.PID()) {
		t.Error("xinetd was killed, not reloaded")
	}
	// A second plan finds nothing left to disable.
	if _, err := For(Env{ProcRoot: "/proc", Services: "/etc/services"}, s, Disable); err == nil {
		t.Error("planned to disable an already disabled service")
	}
}

// TestInetdConfiguration checks the inetd.conf path with a real process
// standing in for inetd (it cannot be installed beside xinetd): the line is
// commented out and the process gets the reload signal.
func TestInetdConfiguration(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "inetd.conf")
	text := "# inetd.conf\necho\tstream\ttcp\tnowait\troot\tinternal\n127.0.0.1:2323\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\t/usr/sbin/in.telnetd\n"
	os.WriteFile(conf, []byte(text), 0o644)
	stand := exec.Command("sleep", "60") // SIGHUP ends it: that proves the reload was sent
	if err := stand.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stand.Process.Kill(); stand.Wait() }()
	server, err := action.TargetFromProc("/proc", stand.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	server.Name, server.Cmdline = "inetd", []string{"/usr/sbin/inetd", "-i", conf}
	s := &sockets.Socket{Proto: sockets.TCP, State: sockets.Listen}
	s.Local = netipAddrPort("127.0.0.1:2323")
	plan, err := planInetd(Env{ProcRoot: "/proc", Services: "/etc/services", Now: time.Now}, s, server)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Run(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(conf)
	want := strings.Replace(text, "127.0.0.1:2323", "#<off># 127.0.0.1:2323", 1)
	if string(b) != want {
		t.Errorf("inetd.conf:\n%s\nwant:\n%s", b, want)
	}
	done := make(chan error, 1)
	go func() { done <- stand.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the reload signal did not reach the server")
	}
	s.Local = netipAddrPort("127.0.0.1:9") // discard: no line defines it
	if _, err := planInetd(Env{ProcRoot: "/proc", Services: "/etc/services"}, s, server); err == nil {
		t.Error("planned for a port no enabled line defines")
	}
}

func TestUnknownStarterSaysWhatItKnows(t *testing.T) {
	h, addr, err := sockettest.HoldListener(1)
	if err != nil {
		t.Fatal(err)
	}
	defer h[0].Close()
	s := listener(t, int(addr.Port()), true)
	_, err = For(Env{ProcRoot: "/proc", Services: "/etc/services"}, s, Disable)
	var u *Unsupported
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "cannot tell what starts") || !strings.Contains(u.Reason, "exe ") {
		t.Errorf("unknown starter: %v", err)
	}
}

func netipAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
