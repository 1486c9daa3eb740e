package disable

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
)

// systemdTimeout bounds one conversation with systemd, a stop job included.
const systemdTimeout = 90 * time.Second

// systemd is what disabling needs from the service manager. D-Bus and the
// systemctl command both provide it.
type systemd interface {
	// Sockets lists the socket units systemd has loaded, with what they
	// listen on.
	Sockets(ctx context.Context) ([]socketUnit, error)
	// TriggeredBy names the units (sockets, timers, paths) that start unit.
	TriggeredBy(ctx context.Context, unit string) ([]string, error)
	// FragmentPath is the file that defines unit.
	FragmentPath(ctx context.Context, unit string) (string, error)
	Stop(ctx context.Context, unit string) error
	// Disable removes the units' boot-time links; Mask links them to
	// /dev/null. Both make systemd reload its configuration.
	Disable(ctx context.Context, units []string) error
	Mask(ctx context.Context, units []string) error
	Close()
}

// socketUnit is a .socket unit and what it listens on.
type socketUnit struct {
	Name   string
	Listen []listenAddr
}

// listenAddr is one entry of a socket unit's Listen property:
// ("Stream", "127.0.0.1:7"), ("Datagram", "[::]:53"), ("Stream", "/run/x.sock").
type listenAddr struct{ Type, Address string }

// matches reports whether the entry is the socket's local address.
func (l listenAddr) matches(s *sockets.Socket) bool {
	switch {
	case l.Type == "Stream" && s.Proto == sockets.TCP, l.Type == "Datagram" && s.Proto == sockets.UDP:
	default:
		return false
	}
	ap, err := netip.ParseAddrPort(l.Address)
	if err != nil {
		return false // a file system socket, a netlink family, …
	}
	return ap.Port() == s.Local.Port() && ap.Addr().WithZone("").Unmap() == s.Local.Addr().WithZone("").Unmap()
}

// connectSystemd talks D-Bus when it can: systemd's private socket as root
// (what systemctl itself uses), else the system bus. Without either it
// falls back to the systemctl command.
func connectSystemd(ctx context.Context, env Env) systemd {
	if !env.viaSystemctl {
		if os.Geteuid() == 0 {
			if c, err := sdbus.NewSystemdConnectionContext(ctx); err == nil {
				return dbusSystemd{c}
			}
		}
		if c, err := sdbus.NewSystemConnectionContext(ctx); err == nil {
			return dbusSystemd{c}
		}
	}
	return systemctl{}
}

// planSystemd plans to stop and disable (or mask) the units that provide
// s: the services holding it, the socket units that start them, and the
// socket unit itself when systemd holds the listener.
func planSystemd(env Env, s *sockets.Socket, how How) (*Plan, error) {
	ctx, cancel := context.WithTimeout(context.Background(), systemdTimeout)
	defer cancel()
	sd := connectSystemd(ctx, env)
	defer sd.Close()

	var sockUnits, services []string
	for _, p := range s.Processes {
		unit := origin.Unit(p.Cgroup)
		switch {
		case strings.Contains(p.Cgroup, "/user@"):
			return nil, &Unsupported{fmt.Sprintf("%s (pid %d) is the user unit %s of a per-user systemd; as that user: systemctl --user disable --now %s",
				p.Name, p.PID, orDash(unit), orDash(unit))}
		case unit == "init.scope":
			// systemd itself holds the listener: socket activation.
			found, err := socketUnitsFor(ctx, sd, s)
			if err != nil {
				return nil, err
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("systemd itself holds %s/%s, but no socket unit lists that address", s.Proto, s.Local)
			}
			sockUnits = appendNew(sockUnits, found...)
		case strings.HasSuffix(unit, ".scope"):
			return nil, &Unsupported{fmt.Sprintf("%s (pid %d) was started by hand in %s (a login session or a transient scope), not by a service that starts at boot: kill it (k) instead",
				p.Name, p.PID, unit)}
		case strings.HasSuffix(unit, ".service"):
			services = appendNew(services, unit)
			triggers, err := sd.TriggeredBy(ctx, unit)
			if err != nil {
				return nil, err
			}
			for _, t := range triggers {
				if strings.HasSuffix(t, ".socket") {
					sockUnits = appendNew(sockUnits, t)
				}
			}
		default:
			return nil, &Unsupported{fmt.Sprintf("%s (pid %d) runs under systemd in %s, which is not a unit portwarden can disable", p.Name, p.PID, orDash(p.Cgroup))}
		}
	}
	// Sockets first: a stopped service whose socket still listens would be
	// started again by the next connection.
	stop := append(slices.Clone(sockUnits), services...)
	// An instance a socket unit started (ssh@3-….service) goes with it.
	var keep []string
	for _, u := range services {
		if !isInstance(u) || len(sockUnits) == 0 {
			keep = append(keep, u)
		}
	}
	files := append(slices.Clone(sockUnits), keep...)

	// Where each unit is defined: a transient unit (systemd-run) has no
	// file to disable and is gone at reboot; a mask is a link in
	// /etc/systemd/system and cannot replace a unit file the admin wrote
	// there.
	var persistent, transient []string
	disableEnv := env
	for _, u := range files {
		frag, err := sd.FragmentPath(ctx, u)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(frag, "/run/systemd/generator") && how == Disable {
			// Generated (from an /etc/init.d script, by
			// systemd-sysv-generator): only systemctl disables it,
			// through systemd-sysv-install and update-rc.d.
			disableEnv.viaSystemctl = true
		}
		switch {
		case strings.HasPrefix(frag, "/run/systemd/transient/"):
			transient = append(transient, u)
			continue
		case how == Mask && path.Dir(frag) == "/etc/systemd/system":
			return nil, &Unsupported{fmt.Sprintf("%s is defined by %s itself, which a mask would have to replace: disable it instead (leave out --mask)", u, frag)}
		}
		persistent = append(persistent, u)
	}
	files = persistent

	p := &Plan{Manager: "systemd", Service: strings.Join(append(slices.Clone(files), transient...), " ")}
	for _, u := range stop {
		p.Steps = append(p.Steps, Step{
			Describe: "stop " + u + " (systemctl stop " + u + ")",
			run:      withSystemd(env, func(ctx context.Context, sd systemd) error { return sd.Stop(ctx, u) }),
		})
	}
	list, they, them := strings.Join(files, " "), "they do", "them"
	if len(files) == 1 {
		they, them = "it does", "it"
	}
	if how == Mask && len(files) > 0 {
		p.Steps = append(p.Steps, Step{
			Describe: "mask " + list + " so nothing can start " + them + ", not even by hand (systemctl mask " + list + ")",
			run:      withSystemd(env, func(ctx context.Context, sd systemd) error { return sd.Mask(ctx, files) }),
		})
	} else if len(files) > 0 {
		p.Steps = append(p.Steps, Step{
			Describe: "disable " + list + " so " + they + " not start at boot (systemctl disable " + list + ")",
			run:      withSystemd(disableEnv, func(ctx context.Context, sd systemd) error { return sd.Disable(ctx, files) }),
		})
	}
	if len(transient) > 0 {
		p.Note = strings.Join(transient, " ") + " is transient (started with systemd-run, no unit file): stopping it is enough, it does not come back at boot"
	}
	return p, nil
}

// withSystemd runs one step on a fresh connection: a plan may run long
// after it was made (the dashboard waits for the admin).
func withSystemd(env Env, fn func(context.Context, systemd) error) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), systemdTimeout)
		defer cancel()
		sd := connectSystemd(ctx, env)
		defer sd.Close()
		return fn(ctx, sd)
	}
}

// SocketUnits names the socket units systemd holds s for (socket
// activation), or nil when it holds none or cannot be asked.
func SocketUnits(s *sockets.Socket) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sd := connectSystemd(ctx, Env{})
	defer sd.Close()
	units, _ := socketUnitsFor(ctx, sd, s)
	return units
}

// socketUnitsFor names the socket units listening on s's address.
func socketUnitsFor(ctx context.Context, sd systemd, s *sockets.Socket) ([]string, error) {
	units, err := sd.Sockets(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, u := range units {
		if slices.ContainsFunc(u.Listen, func(l listenAddr) bool { return l.matches(s) }) {
			names = append(names, u.Name)
		}
	}
	return names, nil
}

// isInstance reports whether unit is an instance of a template
// ("ssh@3-….service"), which has no install links of its own.
func isInstance(unit string) bool {
	at := strings.IndexByte(unit, '@')
	return at >= 0 && at+1 < len(unit)-len(path.Ext(unit))
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
