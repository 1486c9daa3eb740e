// Package paths says where portwarden keeps its files, once.
package paths

import (
	"os"
	"path/filepath"
)

// ConfigFile is where a file of portwarden's configuration lives:
// /etc/portwarden/NAME for root, else $XDG_CONFIG_HOME/portwarden/NAME
// (~/.config by default).
func ConfigFile(name string) string {
	if os.Geteuid() == 0 {
		return filepath.Join("/etc/portwarden", name)
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "portwarden", name)
}
