// Package disable stops the service behind a socket from coming back: it
// finds what starts it, from the process and not by guessing, and makes
// the change that manager understands, showing every step first.
package disable

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/atomicfile"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
)

// Step is one change, described before it is made.
type Step struct {
	Describe string
	run      func() error
}

// NewStep is a change that run makes, described as describe says; for
// managers this package does not plan itself (a container engine).
func NewStep(describe string, run func() error) Step { return Step{Describe: describe, run: run} }

// Plan is how to disable the service behind a socket.
type Plan struct {
	Manager string        // "systemd", "xinetd", "inetd", "docker", "podman"
	Service string        // the units or service entry
	Holder  action.Target // the process that holds the socket, or its super-server
	Steps   []Step
	Note    string // what else the admin should know, "" when nothing
}

// String names what the plan disables: "xinetd service echo",
// "systemd unit ssh.service", "systemd units a.socket a.service".
func (p *Plan) String() string {
	kind := "service"
	switch p.Manager {
	case "docker", "podman":
		kind = "container"
	case "systemd":
		kind = "unit"
		if strings.Contains(p.Service, " ") {
			kind = "units"
		}
	}
	return p.Manager + " " + kind + " " + p.Service
}

// Run makes the plan's changes in order and stops at the first failure.
func (p *Plan) Run() error {
	for i, s := range p.Steps {
		if err := s.run(); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.Describe, err)
		}
	}
	return nil
}

// Unsupported says why portwarden cannot disable a service itself, with
// what it knows so the admin can.
type Unsupported struct{ Reason string }

func (u *Unsupported) Error() string { return u.Reason }

// Env is where disable looks: the /proc and /etc/services to read.
type Env struct {
	ProcRoot string // "/proc"
	Services string // "/etc/services"
	Root     string // where /etc/init.d and /run are read; "" is "/"
	Now      func() time.Time

	viaSystemctl bool // tests: use systemctl even where D-Bus answers
}

// How says what disabling means where the manager offers a choice.
type How int

const (
	// Disable stops the service and keeps it from starting at boot.
	Disable How = iota
	// Mask also keeps anything from starting it, by hand or as a
	// dependency (systemd only).
	Mask
)

// stamp names a backup taken now.
func (env Env) stamp() string {
	now := time.Now
	if env.Now != nil {
		now = env.Now
	}
	return now().Format("20060102T150405")
}

// For plans how to disable the service that provides socket s.
func For(env Env, s *sockets.Socket, how How) (*Plan, error) {
	if len(s.Processes) == 0 {
		return nil, &Unsupported{"no process holds this socket (or its owner cannot be read: run as root), so nothing tells what starts it"}
	}
	holder := s.Processes[0]
	server := action.TargetOf(holder)
	info := origin.Describe(env.ProcRoot, holder.PID, holder.PPID, holder.Cgroup)
	if !isSuperServer(holder.Name) && info.Inetd != "" && len(info.Parents) > 0 {
		// A connection served by a child of the super-server.
		t, err := action.TargetFromProc(env.ProcRoot, info.Parents[0].PID)
		if err != nil {
			return nil, err
		}
		server = t
	}
	var plan *Plan
	var err error
	switch {
	case info.Unit != "" && !isSuperServer(server.Name):
		plan, err = planSystemd(env, s, how)
	case how == Mask:
		err = &Unsupported{fmt.Sprintf("masking is for systemd units; %s is not run by one (leave out --mask)", holder.Name)}
	case server.Name == "xinetd":
		plan, err = planXinetd(env, s, server)
	case isSuperServer(server.Name):
		plan, err = planInetd(env, s, server)
	default:
		plan, err = planInitScript(env, s)
		if plan == nil && err == nil {
			err = &Unsupported{unknownStarter(holder, info)}
		}
	}
	if err != nil {
		return nil, err
	}
	plan.Holder = server
	return plan, nil
}

func isSuperServer(name string) bool {
	switch name {
	case "xinetd", "inetd", "openbsd-inetd", "inetutils-inetd":
		return true
	}
	return false
}

// unknownStarter says what portwarden knows of a process whose starter it
// cannot tell: exe, parents, and the package that owns the exe.
func unknownStarter(p *sockets.Process, info origin.Info) string {
	var chain []string
	for _, a := range info.Parents {
		chain = append(chain, fmt.Sprintf("%s (%d)", a.Name, a.PID))
	}
	msg := fmt.Sprintf("portwarden cannot tell what starts %s (pid %d): not a systemd unit, not an inetd service, no init script's pidfile holds its PID. exe %s; parents %s",
		p.Name, p.PID, orDash(p.Exe), orDash(strings.Join(chain, " ← ")))
	if pkg := owningPackage(p.Exe); pkg != "" {
		msg += "; the exe belongs to the package " + pkg
	}
	return msg
}

// owningPackage asks dpkg (or rpm) which package installed a file; "" when
// neither knows. Arguments go as a vector, never through a shell.
func owningPackage(exe string) string {
	if exe == "" {
		return ""
	}
	if out, err := exec.Command("dpkg", "-S", "--", exe).Output(); err == nil {
		if pkg, _, ok := strings.Cut(strings.TrimSpace(string(out)), ":"); ok {
			return pkg
		}
	}
	if out, err := exec.Command("rpm", "-qf", "--", exe).Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// configArg returns the value of flag in a command line ("-f FILE").
func configArg(cmdline []string, flag string) string {
	for i, a := range cmdline {
		if a == flag && i+1 < len(cmdline) {
			return cmdline[i+1]
		}
	}
	return ""
}

func planXinetd(env Env, s *sockets.Socket, server action.Target) (*Plan, error) {
	conf := configArg(server.Cmdline, "-f")
	if conf == "" {
		conf = "/etc/xinetd.conf"
	}
	services, err := readXinetd(conf)
	if err != nil {
		return nil, err
	}
	names := readServices(env.Services)
	for _, svc := range services {
		if svc.port(names) != s.Local.Port() || svc.protocol() != s.Proto.String() || svc.attrs["disable"] == "yes" {
			continue
		}
		backup := svc.file + ".portwarden-" + env.stamp()
		p := &Plan{Manager: "xinetd", Service: svc.name}
		p.Steps = append(p.Steps, editStep(svc.file, backup,
			fmt.Sprintf("set \"disable = yes\" in service %s of %s (backup %s)", svc.name, svc.file, backup), svc.disabledText),
			reloadStep(env, server, conf))
		return p, nil
	}
	return nil, fmt.Errorf("xinetd (pid %d) holds %s/%d, but no enabled service in %s (and its includes) defines that port",
		server.PID, s.Proto, s.Local.Port(), conf)
}

func planInetd(env Env, s *sockets.Socket, server action.Target) (*Plan, error) {
	conf := "/etc/inetd.conf"
	for _, a := range server.Cmdline[min(1, len(server.Cmdline)):] {
		if !strings.HasPrefix(a, "-") {
			conf = a
		}
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		return nil, fmt.Errorf("read inetd configuration: %w", err)
	}
	names := readServices(env.Services)
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "#") {
			continue
		}
		service := f[0]
		if _, svc, ok := strings.Cut(service, ":"); ok {
			service = svc // host:service
		}
		proto := strings.TrimSuffix(f[2], "6")
		port, err := strconv.ParseUint(service, 10, 16)
		if err != nil {
			port = uint64(names[service+"/"+proto])
		}
		if uint16(port) != s.Local.Port() || proto != s.Proto.String() {
			continue
		}
		backup := conf + ".portwarden-" + env.stamp()
		line := i
		p := &Plan{Manager: "inetd", Service: f[0]}
		p.Steps = append(p.Steps, editStep(conf, backup, fmt.Sprintf("comment out line %d of %s, %q (backup %s)", i+1, conf, strings.Join(f[:3], " "), backup),
			func(text string) string {
				ls := strings.Split(text, "\n")
				ls[line] = "#<off># " + ls[line] // update-inetd's mark
				return strings.Join(ls, "\n")
			}), reloadStep(env, server, conf))
		return p, nil
	}
	return nil, fmt.Errorf("inetd (pid %d) holds %s/%d, but no enabled line of %s defines that port", server.PID, s.Proto, s.Local.Port(), conf)
}

// editStep backs a file up, then replaces it atomically with edit's text.
// It re-reads the file when it runs, so the edit applies to what is there.
func editStep(path, backup, describe string, edit func(string) string) Step {
	return Step{Describe: describe, run: func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(backup, b, 0o600); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return atomicfile.Write(path, []byte(edit(string(b))))
	}}
}

// reloadStep asks the super-server to re-read its configuration: SIGHUP,
// through the same PID-reuse guard as kill.
func reloadStep(env Env, server action.Target, conf string) Step {
	return Step{Describe: fmt.Sprintf("reload %s (pid %d) with SIGHUP so it re-reads %s", server.Name, server.PID, conf), run: func() error {
		exit, err := action.Signal(env.ProcRoot, server, syscall.SIGHUP)
		if err != nil {
			return err
		}
		exit.Close()
		return nil
	}}
}
