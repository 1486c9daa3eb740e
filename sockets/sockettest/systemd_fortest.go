//go:build linux

package sockettest

import (
	"os"
	"path/filepath"
	"testing"
)

// SystemdForTest boots a SystemdBox for t with StartSystemd, skipping the
// test when not root, and stops the box when the test ends.
func SystemdForTest(t testing.TB, dir string, units map[string]string) *SystemdBox {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("booting systemd needs root")
	}
	box, err := StartSystemd(dir, units)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := box.Stop(); err != nil {
			t.Error(err)
		}
	})
	return box
}

// NoDefaultDependencies keeps installed units from pulling in
// sysinit.target, which the box masks (shared/TESTBEDS.md): it adds a
// drop-in with DefaultDependencies=no to each and reloads systemd.
func (b *SystemdBox) NoDefaultDependencies(units ...string) error {
	for _, unit := range units {
		dropIn := filepath.Join(b.EtcUnits, unit+".d")
		if err := os.MkdirAll(dropIn, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dropIn, "box.conf"), []byte("[Unit]\nDefaultDependencies=no\n"), 0o644); err != nil {
			return err
		}
	}
	_, err := b.Systemctl("daemon-reload")
	return err
}
