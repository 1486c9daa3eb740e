package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

type auditLine struct {
	Action    string `json:"action"`
	Result    string `json:"result"`
	Detail    string `json:"detail"`
	User      string `json:"user"`
	Effective string `json:"effective_user"`
	Target    struct {
		PID        int    `json:"pid"`
		StartTicks uint64 `json:"start_ticks"`
		Exe        string `json:"exe"`
		Unit       string `json:"unit"`
	} `json:"target"`
}

func readAudit(t *testing.T, path string) []auditLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []auditLine
	for l := range strings.Lines(string(b)) {
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		lines = append(lines, a)
	}
	return lines
}

func TestKillCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("signals other processes' children as root")
	}
	bin := buildBinary(t)
	log := filepath.Join(t.TempDir(), "audit.log")
	hs, addr := holdListener(t, 1)
	h := hs[0]

	out, errOut, code := runBin(t, bin, "kill", "--dry-run", "--audit-log", log, "tcp/"+addr)
	if code != 0 || !strings.Contains(out, "SIGTERM to ") || !strings.Contains(out, fmt.Sprintf("pid %d", h.PID)) ||
		!strings.Contains(out, "holds    tcp "+addr+" LISTEN") || !strings.Contains(out, "dry run: nothing was sent") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if !running(h.PID) || len(readAudit(t, log)) != 0 {
		t.Fatal("a dry run acted or was recorded")
	}

	if _, errOut, code := runBin(t, bin, "kill", "--audit-log", log, "tcp/"+addr); code != 1 || !strings.Contains(errOut, "--yes") || !running(h.PID) {
		t.Errorf("without a terminal or --yes: exit %d %s", code, errOut)
	}

	out, errOut, code = runBin(t, bin, "kill", "--yes", "--audit-log", log, "tcp/"+addr)
	if code != 0 || !strings.Contains(out, "has ended") {
		t.Errorf("kill: exit %d\n%s%s", code, out, errOut)
	}
	if running(h.PID) {
		t.Error("the holder still runs")
	}
	recs := readAudit(t, log)
	if len(recs) != 1 || recs[0].Action != "kill" || recs[0].Result != "done" || recs[0].Detail != "SIGTERM" || recs[0].Target.PID != h.PID || recs[0].Target.StartTicks == 0 {
		t.Errorf("audit after kill: %+v", recs)
	}

	// A listener shared by two processes: listed, then --all.
	pair, shared := holdListener(t, 2)
	_, errOut, code = runBin(t, bin, "kill", "--yes", "--audit-log", log, shared)
	if code != 1 || !strings.Contains(errOut, "held by 2 processes") || !strings.Contains(errOut, strconv.Itoa(pair[0].PID)) ||
		!strings.Contains(errOut, strconv.Itoa(pair[1].PID)) || !running(pair[0].PID) || !running(pair[1].PID) {
		t.Errorf("ambiguous target: exit %d %s", code, errOut)
	}
	out, errOut, code = runBin(t, bin, "kill", "--yes", "--all", "--signal", "KILL", "--audit-log", log, shared)
	if code != 0 || running(pair[0].PID) || running(pair[1].PID) {
		t.Errorf("--all --signal KILL: exit %d\n%s%s", code, out, errOut)
	}

	_, errOut, code = runBin(t, bin, "kill", "--yes", "--audit-log", log, "1")
	if code != 1 || !strings.Contains(errOut, "PID 1 is init") {
		t.Errorf("PID 1: exit %d %s", code, errOut)
	}
	if recs := readAudit(t, log); recs[len(recs)-1].Result != "refused" {
		t.Errorf("refusal not recorded: %+v", recs[len(recs)-1])
	}
	others, addr2 := holdListener(t, 1)
	if _, errOut, code := runBin(t, bin, "kill", "--yes", "--read-only", addr2); code != 1 || !strings.Contains(errOut, "read-only") || !running(others[0].PID) {
		t.Errorf("--read-only: exit %d %s", code, errOut)
	}
	if _, _, code := runBin(t, bin, "kill", "--signal", "HUP", addr2); code != 2 {
		t.Errorf("bad signal: exit %d, want 2", code)
	}
}

// TestDisableCommand disables a real xinetd service from the command line.
func TestDisableCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("xinetd needs root")
	}
	bin := buildBinary(t)
	x, err := sockettest.StartXinetd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Stop()
	port := x.Port
	target := fmt.Sprintf("tcp/127.0.0.1:%d", port)
	listening := func() bool {
		out, _, _ := runBin(t, bin, "snapshot", "--listening", "--tcp", "-4", "--baseline", filepath.Join(t.TempDir(), "b"))
		return strings.Contains(out, fmt.Sprintf(" 127.0.0.1:%d ", port))
	}
	waitUntil(t, "xinetd listens", listening)

	log := filepath.Join(t.TempDir(), "audit.log")
	out, errOut, code := runBin(t, bin, "disable", "--dry-run", "--audit-log", log, target)
	if code != 0 || !strings.Contains(out, "disable xinetd service echo:") || !strings.Contains(out, "1. set \"disable = yes\"") ||
		!strings.Contains(out, "2. reload xinetd") || !strings.Contains(out, "dry run") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(x.ServiceFile); string(b) != x.Service || len(readAudit(t, log)) != 0 {
		t.Fatal("the dry run changed or recorded something")
	}
	out, errOut, code = runBin(t, bin, "disable", "--yes", "--audit-log", log, target)
	if code != 0 || !strings.Contains(out, "disabled xinetd service echo") {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errOut)
	}
	waitUntil(t, "the port to go", func() bool { return !listening() })
	if recs := readAudit(t, log); len(recs) != 1 || recs[0].Action != "disable" || recs[0].Result != "done" || !strings.Contains(recs[0].Detail, x.ServiceFile) {
		t.Errorf("audit: %+v", recs)
	}
	if _, errOut, code := runBin(t, bin, "disable", "--yes", "--audit-log", log, target); code != 1 || !strings.Contains(errOut, "nothing listens") {
		t.Errorf("disabling again: exit %d %s", code, errOut)
	}
	// Something portwarden cannot tell the starter of: it says what it knows.
	hs, addr := holdListener(t, 1)
	_, errOut, code = runBin(t, bin, "disable", "--yes", "--audit-log", log, "tcp/"+addr)
	if code != 1 || !strings.Contains(errOut, "cannot tell what starts") || !strings.Contains(errOut, strconv.Itoa(hs[0].PID)) {
		t.Errorf("unknown starter: exit %d %s", code, errOut)
	}
}

// TestDisableSystemdCommand disables Debian's own ssh units (the
// openssh-server package's ssh.service and ssh.socket) in a real systemd
// booted in namespaces of its own, with portwarden run inside that box.
func TestDisableSystemdCommand(t *testing.T) {
	if _, err := os.Stat("/lib/systemd/system/ssh.socket"); err != nil {
		t.Skip("openssh-server is not installed (scripts/test.sh installs it)")
	}
	bin := buildBinary(t)
	box := sockettest.SystemdForTest(t, t.TempDir(), nil)
	if err := box.NoDefaultDependencies("ssh.service", "ssh.socket"); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Systemctl("enable", "--now", "ssh.service"); err != nil {
		t.Fatal(err)
	}
	var sshEnv []string // the environment of an SSH session, when set
	inBox := func(args ...string) (string, string, int) {
		cmd := box.Command(bin, args...)
		cmd.Env = append(os.Environ(), sshEnv...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}
	listening := func() bool {
		out, _, _ := inBox("snapshot", "--listening", "--tcp", "--baseline", filepath.Join(t.TempDir(), "b"))
		return strings.Contains(out, ":22 ")
	}
	waitUntil(t, "sshd to listen on port 22 in the box", listening)

	log := filepath.Join(t.TempDir(), "audit.log")
	out, errOut, code := inBox("disable", "--dry-run", "--audit-log", log, "tcp/22")
	if code != 0 || !strings.Contains(out, "disable systemd unit ssh.service:") || !strings.Contains(out, "1. stop ssh.service") ||
		!strings.Contains(out, "2. disable ssh.service") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if state, _ := box.Systemctl("is-enabled", "ssh.service"); state != "enabled" || !listening() {
		t.Fatalf("the dry run changed something: %s", state)
	}
	// An admin who came in over SSH on port 22 is about to lock
	// themselves out: --yes is not enough.
	sshEnv = []string{"SSH_CONNECTION=198.51.100.20 50022 127.0.0.1 22"}
	out, errOut, code = inBox("disable", "--yes", "--audit-log", log, "tcp/22")
	if code != 1 || !strings.Contains(errOut, "DANGER: this is the SSH listener (port 22)") || !strings.Contains(errOut, "add --force") {
		t.Fatalf("disabling the session's own sshd with --yes: exit %d\n%s%s", code, out, errOut)
	}
	if recs := readAudit(t, log); len(recs) != 1 || recs[0].Result != "refused" {
		t.Errorf("audit of the refusal: %+v", recs)
	}
	sshEnv = nil

	// sshd listens on 0.0.0.0:22 and [::]:22: one service, one plan.
	out, errOut, code = inBox("disable", "--yes", "--audit-log", log, "tcp/22")
	if code != 0 || !strings.Contains(out, "disabled systemd unit ssh.service") {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errOut)
	}
	waitUntil(t, "port 22 to go", func() bool { return !listening() })
	if state, _ := box.Command("systemctl", "is-enabled", "ssh.service").Output(); strings.TrimSpace(string(state)) != "disabled" {
		t.Errorf("systemctl is-enabled ssh.service = %q after disable", state)
	}
	recs := readAudit(t, log)
	if len(recs) != 2 || recs[1].Action != "disable" || recs[1].Result != "done" || recs[1].Target.Exe != "/usr/sbin/sshd" ||
		recs[1].Target.Unit != "ssh.service" || !strings.Contains(recs[1].Detail, "stop ssh.service") {
		t.Errorf("audit: %+v", recs)
	}

	// Socket activation: systemd itself holds the listener for ssh.socket,
	// enabled for boot. Disable it; then start it by hand and mask it.
	if _, err := box.Systemctl("enable", "--now", "ssh.socket"); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ flag, step, state string }{{"", "2. disable ssh.socket", "disabled"}, {"--mask", "2. mask ssh.socket", "masked"}} {
		if i > 0 {
			if _, err := box.Systemctl("start", "ssh.socket"); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, "ssh.socket to listen", listening)
		args := []string{"disable", "--yes", "--audit-log", log, "tcp/22"}
		if c.flag != "" {
			args = slices.Insert(args, 1, c.flag)
		}
		out, errOut, code = inBox(args...)
		if code != 0 || !strings.Contains(out, "1. stop ssh.socket") || !strings.Contains(out, c.step) {
			t.Fatalf("disable %s: exit %d\n%s%s", c.flag, code, out, errOut)
		}
		waitUntil(t, "port 22 to go", func() bool { return !listening() })
		if state, _ := box.Command("systemctl", "is-enabled", "ssh.socket").Output(); strings.TrimSpace(string(state)) != c.state {
			t.Errorf("systemctl is-enabled ssh.socket = %q after disable %s, want %s", state, c.flag, c.state)
		}
		recs := readAudit(t, log)
		if last := recs[len(recs)-1]; len(recs) != 3+i || last.Result != "done" || last.Target.PID != 1 || !strings.Contains(last.Detail, strings.TrimPrefix(c.step, "2. ")) {
			t.Errorf("audit after disable %s: %+v", c.flag, recs)
		}
	}
}

// TestKillGuardsOwnSSHSession logs in to a real sshd with a key and runs
// portwarden inside the session: the sshd it came through is protected.
func TestKillGuardsOwnSSHSession(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sshd needs root")
	}
	bin := buildBinary(t)
	sshd, err := sockettest.StartSSHD(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sshd.Stop()
	ssh := func(command ...string) (string, string, int) {
		args := sshd.SSH(false, command...)
		return runBin(t, args[0], args[1:]...)
	}
	waitUntil(t, "an SSH login", func() bool { _, _, code := ssh("true"); return code == 0 })
	target := fmt.Sprintf("tcp/127.0.0.1:%d", sshd.Port)
	log := filepath.Join(t.TempDir(), "audit.log")

	out, errOut, code := ssh(bin, "kill", "--yes", "--audit-log", log, target)
	if code != 1 || !strings.Contains(out, "your own SSH session") || !strings.Contains(errOut, "--force") {
		t.Errorf("kill of our own sshd from inside the session: exit %d\n%s%s", code, out, errOut)
	}
	if !running(sshd.PID()) {
		t.Fatal("the session's sshd was killed")
	}
	if recs := readAudit(t, log); len(recs) != 1 || recs[0].Result != "refused" {
		t.Errorf("audit: %+v", recs)
	}
	// A dry run says the real run would be refused, and exits 1.
	out, errOut, code = ssh(bin, "kill", "--dry-run", "--audit-log", log, target)
	if code != 1 || !strings.Contains(out, "!!! DANGER") || !strings.Contains(errOut, "a real run would refuse this") {
		t.Errorf("dry run inside the session: exit %d\n%s%s", code, out, errOut)
	}
	if recs := readAudit(t, log); len(recs) != 1 {
		t.Errorf("the dry run was recorded: %+v", recs)
	}
	// Outside any SSH session the same sshd is an ordinary process.
	out, _, code = runBin(t, bin, "kill", "--dry-run", target)
	if code != 0 || strings.Contains(out, "DANGER") || !strings.Contains(out, fmt.Sprintf("pid %d", sshd.PID())) {
		t.Errorf("dry run outside: exit %d\n%s", code, out)
	}
}

// TestKillNamesWhatIsNotThere: a PID that does not exist is "no such
// process", not "already exited"; nothing is recorded.
func TestKillNamesWhatIsNotThere(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.log")
	pid := strconv.Itoa(1 << 22) // above any pid_max
	_, errOut, code := runCLI(t, "kill", "--dry-run", "--audit-log", log, pid)
	if code != 1 || !strings.Contains(errOut, "pid "+pid+": no such process") {
		t.Errorf("kill %s: exit %d %q", pid, code, errOut)
	}
	if _, err := os.Stat(log); err == nil {
		t.Error("a kill of nothing was recorded")
	}
}
