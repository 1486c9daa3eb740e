// Package origin tells how a process was started: the systemd unit that
// runs it, read from its control group.
package origin

import (
	"os"
	"path"
	"strings"
)

// SystemdRunning reports whether systemd manages this system, the way
// systemd's own sd_booted() decides: /run/systemd/system exists.
func SystemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// Unit returns the systemd unit a cgroup path belongs to
// ("/system.slice/nginx.service" → "nginx.service"), the innermost
// .service, .socket or .scope, or "" when there is none. Call it only when
// SystemdRunning: a cgroup path that merely looks like a unit means nothing
// where systemd does not run.
func Unit(cgroup string) string {
	for p := cgroup; p != "/" && p != "." && p != ""; p = path.Dir(p) {
		base := path.Base(p)
		for _, suffix := range []string{".service", ".socket", ".scope"} {
			if strings.HasSuffix(base, suffix) {
				return base
			}
		}
	}
	return ""
}
