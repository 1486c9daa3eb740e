package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestShortLivedClientsKeepTheirUnit runs the recorder inside a real
// systemd (booted in namespaces of its own), and a client as a oneshot
// unit that connects to a unit's listener and is gone in milliseconds:
// gone before /proc could be read, the client keeps its unit in the
// record — from the cgroup the kernel's event names — and the server's
// end keeps its own.
func TestShortLivedClientsKeepTheirUnit(t *testing.T) {
	bin := buildBinary(t)
	box := sockettest.SystemdForTest(t, t.TempDir(), map[string]string{"pwtest-echo.service": `[Unit]
Description=portwarden test server
DefaultDependencies=no
[Service]
ExecStart=/usr/bin/python3 -c "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', 8099))\ns.listen()\nwhile True:\n    c, _ = s.accept(); c.sendall(b'hi'); c.close()"
[Install]
WantedBy=multi-user.target
`, "pwtest-client.service": `[Unit]
Description=portwarden test client: connects, reads, and is gone
DefaultDependencies=no
[Service]
Type=oneshot
ExecStart=/usr/bin/python3 -c "import socket; c = socket.create_connection(('127.0.0.1', 8099)); c.recv(2); c.close()"
`})
	if _, err := box.Systemctl("enable", "--now", "pwtest-echo.service"); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "history.db")
	rec := box.Command(bin, "record", "--db", db)
	var errs strings.Builder
	rec.Stderr = &errs
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	// nsenter forks the recorder into the box's PID namespace: the
	// recorder is nsenter's child, stopped by its PID as the host numbers
	// it, then both are waited for.
	defer func() {
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", rec.Process.Pid, rec.Process.Pid))
		if pid, err := strconv.Atoi(strings.TrimSpace(string(children))); err == nil {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		rec.Wait()
	}()
	waitRecord := func(what string, ok func(*history.DB) bool) {
		t.Helper()
		if !sockettest.WaitFor(30*time.Second, func() bool {
			d, err := history.Open(db, false)
			if err != nil {
				return false
			}
			defer d.Close()
			return ok(d)
		}) {
			t.Fatalf("the record never showed %s; the recorder said:\n%s", what, errs.String())
		}
	}
	waitRecord("a first commit", func(d *history.DB) bool { c, err := d.LastCommit(); return err == nil && !c.IsZero() })

	if _, err := box.Systemctl("start", "pwtest-client.service"); err != nil { // a oneshot: back once it is done
		t.Fatal(err)
	}
	var client, server history.Lifetime
	waitRecord("both ends of the client's connection, closed", func(d *history.DB) bool {
		client, server = history.Lifetime{}, history.Lifetime{}
		d.Query(history.Filter{Port: 8099, Kind: history.Connection}, func(l *history.Lifetime) error {
			switch {
			case l.Open:
			case l.Direction == history.Outbound || l.Remote.Port() == 8099:
				client = *l
			default:
				server = *l
			}
			return nil
		})
		return client.ID != 0 && server.ID != 0
	})
	if client.Owner.Unit != "pwtest-client.service" || client.Owner.Process != "python3" || client.Owner.User != "root" {
		t.Errorf("the client's end: %+v; want python3, root, unit pwtest-client.service", client.Owner)
	}
	if server.Owner.Unit != "pwtest-echo.service" {
		t.Errorf("the server's end: %+v; want unit pwtest-echo.service", server.Owner)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
}
