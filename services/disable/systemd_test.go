package disable

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// inBoxEnv marks the test binary started inside the systemd box.
const inBoxEnv = "PORTWARDEN_TEST_IN_SYSTEMD_BOX"

// Ports of the box's units. The box has a network namespace of its own.
const (
	webPort     = 8080 // pwtest-web.service, a plain daemon with Restart=always
	echoPort    = 7    // pwtest-echo.socket, Accept=yes: systemd holds the listener
	daytimePort = 13   // pwtest-daytime.socket, Accept=no: systemd and the service hold it
	adminPort   = 8081 // pwtest-admin.service, written by the admin in /etc/systemd/system
	runPort     = 8082 // pwtest-run.service, a transient unit from systemd-run
	legacyPort  = 8083 // pwtest-legacy, an /etc/init.d script systemd runs as a generated unit
)

// boxUnits are real units, with DefaultDependencies=no so that booting
// them starts nothing else (see shared/TESTBEDS.md).
func boxUnits(dir string) map[string]string {
	daytime := filepath.Join(dir, "daytime.py")
	os.WriteFile(daytime, []byte(`import socket, time
ln = socket.socket(fileno=3)  # handed over by systemd
while True:
    c, _ = ln.accept()
    c.sendall(time.ctime().encode() + b"\r\n")
    c.close()
`), 0o644)
	return map[string]string{
		"pwtest-web.service": fmt.Sprintf(`[Unit]
Description=portwarden test web server
DefaultDependencies=no
[Service]
ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 %d
Restart=always
[Install]
WantedBy=multi-user.target
`, webPort),
		"pwtest-echo.socket": fmt.Sprintf(`[Unit]
Description=portwarden test echo
DefaultDependencies=no
[Socket]
ListenStream=127.0.0.1:%d
Accept=yes
[Install]
WantedBy=sockets.target
`, echoPort),
		"pwtest-echo@.service": `[Unit]
Description=portwarden test echo connection
DefaultDependencies=no
[Service]
ExecStart=/bin/cat
StandardInput=socket
`,
		"pwtest-daytime.socket": fmt.Sprintf(`[Unit]
Description=portwarden test daytime
DefaultDependencies=no
[Socket]
ListenStream=127.0.0.1:%d
[Install]
WantedBy=sockets.target
`, daytimePort),
		"pwtest-daytime.service": fmt.Sprintf(`[Unit]
Description=portwarden test daytime server
DefaultDependencies=no
[Service]
ExecStart=/usr/bin/python3 %s
[Install]
Also=pwtest-daytime.socket
`, daytime),
	}
}

// TestDisableSystemdUnits boots a real systemd in namespaces of its own,
// enables real units there, and runs TestInSystemdBox inside the box,
// where portwarden sees the box's /proc, sockets and systemd.
func TestDisableSystemdUnits(t *testing.T) {
	dir := t.TempDir()
	box := sockettest.SystemdForTest(t, dir, boxUnits(dir))
	admin := fmt.Sprintf("[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 %d\n", adminPort)
	if err := os.WriteFile(filepath.Join(box.EtcUnits, "pwtest-admin.service"), []byte(admin), 0o644); err != nil {
		t.Fatal(err)
	}
	legacy := fmt.Sprintf(`#!/bin/sh
### BEGIN INIT INFO
# Provides:          pwtest-legacy
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: portwarden test legacy daemon
### END INIT INFO
PIDFILE=/run/pwtest-legacy.pid
case "$1" in
start) start-stop-daemon --start --background --make-pidfile --pidfile $PIDFILE --exec /usr/bin/python3 -- -m http.server --bind 127.0.0.1 %d ;;
stop) start-stop-daemon --stop --retry 5 --pidfile $PIDFILE --remove-pidfile ;;
*) echo "Usage: $0 {start|stop}" >&2; exit 3 ;;
esac
`, legacyPort)
	if err := os.WriteFile(filepath.Join(box.InitD, "pwtest-legacy"), []byte(legacy), 0o755); err != nil {
		t.Fatal(err)
	}
	// Its generated unit must not pull in sysinit.target either.
	os.MkdirAll(filepath.Join(box.EtcUnits, "pwtest-legacy.service.d"), 0o755)
	if err := os.WriteFile(filepath.Join(box.EtcUnits, "pwtest-legacy.service.d", "box.conf"), []byte("[Unit]\nDefaultDependencies=no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Systemctl("daemon-reload"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"enable", "pwtest-legacy.service"}, {"start", "pwtest-legacy.service"}} {
		if _, err := box.Systemctl(args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := box.Systemctl("enable", "--now", "pwtest-web.service", "pwtest-echo.socket", "pwtest-daytime.socket"); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Systemctl("start", "pwtest-admin.service"); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := box.Command(exe, "-test.run=^TestInSystemdBox$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), inBoxEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestInSystemdBox") {
		t.Fatalf("inside the box: %v\n%s", err, out)
	}
	t.Logf("inside the box:\n%s", out)
	// The host's own unit directory is untouched: the box had a copy.
	if _, err := os.Lstat("/etc/systemd/system/pwtest-web.service"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the box leaked into the host's /etc/systemd/system: %v", err)
	}
}

// TestInSystemdBox is the half of TestDisableSystemdUnits that runs inside
// the box; anywhere else it skips.
func TestInSystemdBox(t *testing.T) {
	if os.Getenv(inBoxEnv) == "" {
		t.Skip("runs only inside the systemd box TestDisableSystemdUnits boots")
	}
	env := Env{ProcRoot: "/proc", Services: "/etc/services"}

	t.Run("D-Bus and systemctl agree", func(t *testing.T) {
		bus := connectSystemd(t.Context(), env)
		defer bus.Close()
		if _, ok := bus.(dbusSystemd); !ok {
			t.Fatalf("as root beside a running systemd, portwarden should talk D-Bus, not %T", bus)
		}
		viaBus, err := bus.Sockets(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		viaCommand, err := systemctl{}.Sockets(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"pwtest-echo.socket", "pwtest-daytime.socket"} {
			a, b := findUnit(viaBus, name), findUnit(viaCommand, name)
			if len(a) != 1 || a[0].Type != "Stream" || !strings.HasPrefix(a[0].Address, "127.0.0.1:") || fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("%s listens on %v over D-Bus, %v by systemctl", name, a, b)
			}
		}
	})

	t.Run("service over D-Bus", func(t *testing.T) {
		s := listener(t, webPort, true)
		if s.Processes[0].Name != "python3" {
			t.Fatalf("held by %+v", s.Processes)
		}
		info := origin.Describe("/proc", s.Processes[0].PID, s.Processes[0].PPID, s.Processes[0].Cgroup)
		if note := action.ComesBack(info); !strings.Contains(note, "Restart=always") {
			t.Errorf("kill's note for a unit with Restart=always: %q", note)
		}
		plan := mustPlan(t, env, s, Disable, "pwtest-web.service")
		run(t, plan)
		listener(t, webPort, false) // Restart=always did not bring it back
		isEnabled(t, "pwtest-web.service", "disabled")
		isActive(t, "pwtest-web.service", "inactive")
	})

	t.Run("socket held by systemd, with systemctl", func(t *testing.T) {
		conn := dial(t, echoPort) // a live instance pwtest-echo@….service
		defer conn.Close()
		// Until the instance has closed what it inherited from systemd's
		// fork, it holds the listener too.
		var s *sockets.Socket
		if !sockettest.WaitFor(10*time.Second, func() bool {
			s = listener(t, echoPort, true)
			return len(s.Processes) == 1 && s.Processes[0].PID == 1
		}) {
			t.Fatalf("the listener should be systemd's own: %s", holders(s))
		}
		if units := SocketUnits(s); fmt.Sprint(units) != "[pwtest-echo.socket]" {
			t.Errorf("SocketUnits (the dashboard's detail) = %v", units)
		}
		plan := mustPlan(t, Env{ProcRoot: env.ProcRoot, Services: env.Services, viaSystemctl: true}, s, Disable, "pwtest-echo.socket")
		run(t, plan)
		listener(t, echoPort, false)
		isEnabled(t, "pwtest-echo.socket", "disabled")
	})

	t.Run("socket and its service, masked", func(t *testing.T) {
		dial(t, daytimePort).Close() // starts pwtest-daytime.service with the listener
		var s *sockets.Socket
		if !sockettest.WaitFor(10*time.Second, func() bool {
			s = listener(t, daytimePort, true)
			return len(s.Processes) == 2 && slices.ContainsFunc(s.Processes, func(p *sockets.Process) bool { return p.PID == 1 }) &&
				slices.ContainsFunc(s.Processes, func(p *sockets.Process) bool { return p.Name == "python3" })
		}) {
			t.Fatalf("want systemd and the service holding the listener: %s", holders(s))
		}
		var service *sockets.Process
		for _, p := range s.Processes {
			if p.PID != 1 {
				service = p
			}
		}
		info := origin.Describe("/proc", service.PID, service.PPID, service.Cgroup)
		if note := action.ComesBack(info); !strings.Contains(note, "started by pwtest-daytime.socket on the next connection") {
			t.Errorf("kill's note for a socket-activated service: %q", note)
		}
		plan := mustPlan(t, env, s, Mask, "pwtest-daytime.socket pwtest-daytime.service")
		if !strings.HasPrefix(plan.Steps[0].Describe, "stop pwtest-daytime.socket") {
			t.Errorf("the socket must stop first, or it starts the service again: %q", plan.Steps[0].Describe)
		}
		run(t, plan)
		listener(t, daytimePort, false)
		isEnabled(t, "pwtest-daytime.socket", "masked")
		isEnabled(t, "pwtest-daytime.service", "masked")
	})

	t.Run("transient unit: stopped, nothing to disable", func(t *testing.T) {
		// The box keeps sysinit.target masked: booting it would empty the
		// /tmp the box shares with the host. So a transient unit needs
		// DefaultDependencies=no, and one without fails to start.
		if state := systemctlOutput("sysinit.target", "is-enabled"); state != "masked" {
			t.Fatalf("sysinit.target is %q in the box, not masked", state)
		}
		if out, err := exec.Command("systemd-run", "--unit=pwtest-defaults", "/bin/true").CombinedOutput(); err == nil {
			t.Fatalf("a unit with default dependencies started in the box: %s", out)
		}
		out, err := exec.Command("systemd-run", "--unit=pwtest-run", "--property=DefaultDependencies=no",
			"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", fmt.Sprint(runPort)).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-run: %v %s", err, out)
		}
		s := listener(t, runPort, true)
		plan := mustPlan(t, env, s, Disable, "pwtest-run.service")
		if len(plan.Steps) != 1 || !strings.HasPrefix(plan.Steps[0].Describe, "stop pwtest-run.service") || !strings.Contains(plan.Note, "transient") {
			t.Fatalf("plan for a transient unit: %d steps, note %q", len(plan.Steps), plan.Note)
		}
		run(t, plan)
		listener(t, runPort, false)
	})

	t.Run("unit generated from an init script", func(t *testing.T) {
		isEnabled(t, "pwtest-legacy.service", "enabled")
		s := listener(t, legacyPort, true)
		plan := mustPlan(t, env, s, Disable, "pwtest-legacy.service")
		run(t, plan)
		listener(t, legacyPort, false)
		isEnabled(t, "pwtest-legacy.service", "disabled")
		if start, _ := filepath.Glob("/etc/rc2.d/S*pwtest-legacy"); len(start) != 0 {
			t.Errorf("start links left: %v", start)
		}
	})

	t.Run("admin's own unit file cannot be masked", func(t *testing.T) {
		s := listener(t, adminPort, true)
		_, err := For(env, s, Mask)
		var u *Unsupported
		if !errors.As(err, &u) || !strings.Contains(u.Reason, "/etc/systemd/system/pwtest-admin.service") {
			t.Fatalf("mask of a unit file in /etc: %v", err)
		}
		isActive(t, "pwtest-admin.service", "active") // refused before any step
	})
}

func holders(s *sockets.Socket) string {
	var hs []string
	for _, p := range s.Processes {
		hs = append(hs, fmt.Sprintf("%s (pid %d, %s)", p.Name, p.PID, p.Cgroup))
	}
	return strings.Join(hs, ", ")
}

func findUnit(units []socketUnit, name string) []listenAddr {
	for _, u := range units {
		if u.Name == name {
			return u.Listen
		}
	}
	return nil
}

func mustPlan(t *testing.T, env Env, s *sockets.Socket, how How, units string) *Plan {
	t.Helper()
	plan, err := For(env, s, how)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Manager != "systemd" || plan.Service != units {
		t.Fatalf("plan: %s %q, want systemd %q", plan.Manager, plan.Service, units)
	}
	for _, step := range plan.Steps {
		t.Logf("step: %s", step.Describe)
	}
	return plan
}

func run(t *testing.T, plan *Plan) {
	t.Helper()
	if err := plan.Run(); err != nil {
		t.Fatal(err)
	}
}

func dial(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// isEnabled checks systemctl is-enabled, which exits non-zero for anything
// but "enabled": its output is what counts.
func isEnabled(t *testing.T, unit, want string) {
	t.Helper()
	if got := systemctlOutput(unit, "is-enabled"); got != want {
		t.Errorf("systemctl is-enabled %s = %q, want %q", unit, got, want)
	}
}

func isActive(t *testing.T, unit, want string) {
	t.Helper()
	if got := systemctlOutput(unit, "is-active"); got != want {
		t.Errorf("systemctl is-active %s = %q, want %q", unit, got, want)
	}
}

func systemctlOutput(unit, verb string) string {
	out, _ := exec.Command("systemctl", verb, "--", unit).Output()
	return strings.TrimSpace(string(out))
}

func TestParseShowListen(t *testing.T) {
	out := "Id=ssh.socket\nListen=[::]:22 (Stream)\n\nId=dns.socket\nListen=127.0.0.53:53 (Datagram)\nListen=127.0.0.53:53 (Stream)\nListen=/run/dns.sock (Stream)\n\nId=empty.socket\n"
	got := fmt.Sprint(parseShowListen(out))
	want := "[{ssh.socket [{Stream [::]:22}]} {dns.socket [{Datagram 127.0.0.53:53} {Stream 127.0.0.53:53} {Stream /run/dns.sock}]} {empty.socket []}]"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestListenMatches(t *testing.T) {
	sock := func(proto sockets.Proto, addr string) *sockets.Socket {
		return &sockets.Socket{Proto: proto, Local: netipAddrPort(addr)}
	}
	for _, c := range []struct {
		l    listenAddr
		s    *sockets.Socket
		want bool
	}{
		{listenAddr{"Stream", "[::]:22"}, sock(sockets.TCP, "[::]:22"), true},
		{listenAddr{"Stream", "[::]:22"}, sock(sockets.UDP, "[::]:22"), false},
		{listenAddr{"Stream", "[::]:22"}, sock(sockets.TCP, "0.0.0.0:22"), false},
		{listenAddr{"Datagram", "127.0.0.53:53"}, sock(sockets.UDP, "127.0.0.53:53"), true},
		{listenAddr{"Stream", "127.0.0.1:7"}, sock(sockets.TCP, "127.0.0.1:8"), false},
		{listenAddr{"Stream", "/run/x.sock"}, sock(sockets.TCP, "127.0.0.1:7"), false},
		{listenAddr{"SequentialPacket", "127.0.0.1:7"}, sock(sockets.TCP, "127.0.0.1:7"), false},
	} {
		if got := c.l.matches(c.s); got != c.want {
			t.Errorf("%v matches %s %s = %v", c.l, c.s.Proto, c.s.Local, got)
		}
	}
}

func TestIsInstance(t *testing.T) {
	for unit, want := range map[string]bool{
		"ssh@3-127.0.0.1:22-127.0.0.1:5000.service": true,
		"getty@tty1.service":                        true,
		"getty@.service":                            false,
		"ssh.service":                               false,
	} {
		if isInstance(unit) != want {
			t.Errorf("isInstance(%q) = %v", unit, !want)
		}
	}
}
