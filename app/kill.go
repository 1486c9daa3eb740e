package app

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"syscall"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/sockets"
)

// KillPlan is exactly what a kill will hit, as the admin is shown it.
type KillPlan struct {
	Target  action.Target
	Signal  syscall.Signal
	Holding sockets.Holding // the sockets it holds, and who shares them
	// Danger is set when the target is the admin's own session: it is
	// killed only when forced (the CLI's --force, the dashboard's typed PID).
	Danger    string
	ComesBack string // systemd, inetd or a container's restart policy would start it again
	// Container is the container the process runs in, nil when none.
	Container *container.Info
	// Refused says why portwarden will not signal it at all (PID 1, a
	// kernel thread, portwarden itself, read-only); Kill then records the
	// refusal and returns it.
	Refused error
}

// ErrOwnSession refuses an action that would cut the admin's own session
// when it was not forced.
var ErrOwnSession = &action.Refusal{Reason: "refused: this would cut your own session; if you mean it, add --force"}

// KillTargets resolves what the admin named — a PID, tcp/PORT, udp/PORT,
// :PORT or ADDR:PORT — to processes in snap. A PID that holds no socket is
// read from /proc: it can still be named. Several processes come with
// action.ErrAmbiguous.
func (a *App) KillTargets(snap *sockets.Snapshot, arg string) ([]action.Target, error) {
	targets, err := action.Resolve(snap, arg)
	if pid, perr := strconv.Atoi(arg); perr == nil && err != nil {
		t, terr := action.TargetFromProc(procRoot, pid)
		if errors.Is(terr, fs.ErrNotExist) || errors.Is(terr, action.ErrGone) {
			return nil, fmt.Errorf("pid %d: no such process", pid)
		} else if terr != nil {
			return nil, fmt.Errorf("pid %d: %w", pid, terr)
		}
		return []action.Target{t}, nil
	}
	return targets, err
}

// PlanKill checks whether t may be signalled — never PID 1, a kernel
// thread, portwarden or its shell — and says what it would hit and what
// else to know. It records nothing: a dry run is no attempt.
func (a *App) PlanKill(snap *sockets.Snapshot, t action.Target, sig syscall.Signal) *KillPlan {
	p := &KillPlan{Target: t, Signal: sig,
		ComesBack: action.ComesBack(a.Origin(&sockets.Process{PID: t.PID, PPID: t.PPID, Cgroup: t.Cgroup}))}
	if snap != nil {
		p.Holding = snap.HeldBy(t.PID)
	}
	if ref, ok := container.FromCgroup(t.Cgroup); ok {
		c := a.containers.Lookup(ref)
		p.Container = &c
		if c.Restart != "" && c.Restart != "no" {
			p.ComesBack = fmt.Sprintf("it runs in container %s, whose restart policy %q makes %s start it again; disable (d) stops the container and sets its policy to \"no\"",
				c.Label(), c.Restart, c.Runtime)
		}
	}
	if a.opts.ReadOnly {
		p.Refused = ErrReadOnly
		return p
	}
	p.Danger, p.Refused = a.guard(snap).Check(procRoot, t, snap)
	if p.Refused == nil && p.Danger == "" {
		p.Danger = a.killDanger(snap, t)
	}
	return p
}

// Kill signals the planned process through its pidfd (a recycled PID is
// never hit), waits for it to end, and records the result. ended is false
// when it still runs after the wait. A plan with a danger is refused and
// recorded unless forced.
func (a *App) Kill(p *KillPlan, forced bool) (ended bool, err error) {
	switch {
	case a.opts.ReadOnly:
		return false, a.recordKill(p.Target, p.Signal, ErrReadOnly)
	case p.Refused != nil:
		return false, a.recordKill(p.Target, p.Signal, p.Refused)
	case p.Danger != "" && !forced:
		return false, a.recordKill(p.Target, p.Signal, ErrOwnSession)
	}
	exit, err := action.Signal(procRoot, p.Target, p.Signal)
	if err != nil {
		return false, a.recordKill(p.Target, p.Signal, err)
	}
	defer exit.Close()
	ended = exit.Wait(a.opts.KillWait)
	r := a.killRecord(p.Target, p.Signal)
	if !ended {
		r.Result = resultStillRunning
	}
	return ended, a.record(r, nil)
}

// KillWait is how long Kill waits for a process to end.
func (a *App) KillWait() string { return a.opts.KillWait.String() }

func (a *App) killRecord(t action.Target, sig syscall.Signal) audit.Record {
	return audit.Record{Action: "kill", Target: auditProcess(t), Detail: action.SignalName(sig)}
}

func (a *App) recordKill(t action.Target, sig syscall.Signal, err error) error {
	return a.record(a.killRecord(t, sig), err)
}

// IsOwnSession reports whether err refused an action on the admin's own
// session.
func IsOwnSession(err error) bool { return errors.Is(err, ErrOwnSession) }
