package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestDebInSystemdBox installs the release's .deb (PORTWARDEN_DEB, set by
// scripts/test.sh after its snapshot release) and runs what it ships in a
// real systemd booted in a box: the check service once, writing its
// metrics; the man page; the bash completion. dpkg -r then removes all
// but the conffiles, and the package is purged at the end, so the host
// ends as it began.
func TestDebInSystemdBox(t *testing.T) {
	deb := os.Getenv("PORTWARDEN_DEB")
	if deb == "" {
		t.Skip("PORTWARDEN_DEB names no package (scripts/test.sh builds one)")
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a package needs root")
	}
	if exec.Command("dpkg-query", "-W", "portwarden").Run() == nil {
		t.Skip("portwarden is installed on this machine already: not touching it")
	}
	const prom = "/var/lib/prometheus/node-exporter/portwarden.prom"
	t.Cleanup(func() {
		os.Remove(prom)
		if out, err := exec.Command("dpkg", "--purge", "portwarden").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge: %v %s", err, out)
		}
	})
	if out, err := exec.Command("dpkg", "-i", deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v %s", err, out)
	}

	box := sockettest.SystemdForTest(t, t.TempDir(), nil)
	if err := box.NoDefaultDependencies("portwarden-check.service"); err != nil {
		t.Fatal(err)
	}
	if state, _ := box.Systemctl("is-enabled", "portwarden-check.timer"); strings.TrimSpace(state) != "disabled" {
		t.Errorf("the timer ships %q, want disabled", state)
	}
	// A listener under a ruleset in the box's own network namespace: the
	// unit must read the firewall to decide its reach (none: dropped).
	if out, err := box.Command("nft", "table inet pwtest {\n chain input { type filter hook input priority 0;\n tcp dport 9300 drop\n }\n}\n").CombinedOutput(); err != nil {
		t.Fatalf("nft in the box: %v %s", err, out)
	}
	listener := box.Command("python3", "-c", "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', 9300))\ns.listen()\ntime.sleep(300)")
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Process.Kill(); listener.Wait() })
	waitUntil(t, "the box's listener", func() bool {
		out, _ := box.Command("ss", "-tlnH", "sport = :9300").Output()
		return strings.Contains(string(out), "9300")
	})
	if out, err := box.Systemctl("start", "portwarden-check.service"); err != nil {
		status, _ := box.Command("systemctl", "status", "portwarden-check.service").CombinedOutput()
		t.Fatalf("start portwarden-check.service: %v %s\n%s", err, out, status)
	}
	if b, err := os.ReadFile(prom); err != nil || !strings.Contains(string(b), "portwarden_check_ok ") {
		t.Errorf("the service's metrics: %v\n%s", err, b)
	} else if !strings.Contains(string(b), `portwarden_listeners_by_reach{reach="none"} 1`) || !strings.Contains(string(b), `portwarden_listeners_by_reach{reach="unknown"} 0`) {
		t.Errorf("the service did not decide the reach of the box's listener under its ruleset:\n%s", b)
	}

	man := exec.Command("man", "-l", "/usr/share/man/man1/portwarden-check.1.gz")
	man.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80")
	if out, err := man.CombinedOutput(); err != nil || !strings.Contains(string(out), "--prometheus") {
		t.Errorf("man -l portwarden-check.1.gz: %v\n%s", err, out)
	}
	if out, err := exec.Command("bash", "-c", "source /usr/share/bash-completion/completions/portwarden && complete -p portwarden").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "portwarden") {
		t.Errorf("bash completion: %v %s", err, out)
	}

	if out, err := exec.Command("dpkg", "-r", "portwarden").CombinedOutput(); err != nil {
		t.Fatalf("dpkg -r: %v %s", err, out)
	}
	for _, gone := range []string{"/usr/bin/portwarden", "/usr/share/man/man1/portwarden.1.gz", "/lib/systemd/system/portwarden-check.timer"} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("dpkg -r left %s", gone)
		}
	}
	if _, err := os.Stat("/etc/portwarden/config.toml"); err != nil {
		t.Errorf("dpkg -r removed the conffile: %v", err)
	}
}
