package app

import (
	"errors"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/origin"
)

// Audit results.
const (
	resultDone         = "done"
	resultFailed       = "failed"
	resultRefused      = "refused"
	resultStillRunning = "still running"
)

// record appends an action to the audit log, its result decided by err
// unless already set, and returns err joined with any failure to record:
// an action that could not be recorded is shown as such.
func (a *App) record(r audit.Record, err error) error {
	switch {
	case r.Result != "":
	case err == nil:
		r.Result = resultDone
	case isRefusal(err):
		r.Result = resultRefused
	default:
		r.Result = resultFailed
	}
	if err != nil {
		r.Error = err.Error()
	}
	return errors.Join(err, a.log.Append(r))
}

func isRefusal(err error) bool {
	var r *action.Refusal
	return errors.As(err, &r) || errors.Is(err, ErrReadOnly)
}

// auditProcess is how the audit log names a process: PID, start time, exe
// and unit.
func auditProcess(t action.Target) *audit.Process {
	return &audit.Process{PID: t.PID, StartTicks: t.StartTicks, Name: t.Name, Exe: t.Exe, Unit: origin.ManagedUnit(t.Cgroup)}
}
