// Package ui is portwarden's live dashboard: a Bubble Tea program that
// shows the sockets of the machine with their verdicts, refreshes on its
// own, and explains each row. It does no I/O of its own: everything comes
// from a Backend, called only inside tea.Cmds.
package ui

import (
	"syscall"
	"time"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// Frame is one snapshot with its verdicts, one per socket in order.
type Frame struct {
	Snapshot *sockets.Snapshot
	Verdicts []verdict.Verdict
	Warning  string // something the admin should know, e.g. a broken baseline
}

// Backend is what the dashboard asks of the rest of portwarden. Its methods
// may block on I/O and are only ever called from tea.Cmds, one Inspect at a
// time.
type Backend interface {
	// Inspect collects and judges the sockets.
	Inspect() (Frame, error)
	// Origin tells how a process was started.
	Origin(p *sockets.Process) origin.Info
	// ExplainPort says what a port number's range means.
	ExplainPort(port uint16) string
	// SocketUnits names the systemd socket units a listener held by
	// systemd itself belongs to (socket activation).
	SocketUnits(s sockets.Socket) []string

	// Mark adds a baseline entry; Unmark removes the entries with e's key.
	Mark(e baseline.Entry) error
	Unmark(e baseline.Entry) error
	// PlanKill checks that t may be signalled and says what else to know.
	PlanKill(t action.Target) (KillPlan, error)
	// Kill signals t and waits for it to end; ended is false if it still runs.
	Kill(t action.Target, sig syscall.Signal) (ended bool, err error)
	// PlanDisable says how to disable the service behind a socket;
	// RunDisable makes exactly those changes.
	PlanDisable(s sockets.Socket) (DisablePlan, error)
	RunDisable(p *disable.Plan) error
}

// KillPlan is what the kill dialog shows besides the process itself.
type KillPlan struct {
	Danger    string // the admin's own session: needs the PID typed
	ComesBack string // systemd or inetd will start it again
}

// DisablePlan is how to disable the service behind a socket, and whether
// that cuts the admin's own session.
type DisablePlan struct {
	*disable.Plan
	Danger string // the admin's own session: needs the holder's PID typed
}

// Config is how the dashboard starts.
type Config struct {
	Host     string
	Root     bool          // running as root: every owner is visible
	Interval time.Duration // between refreshes
	Color    bool          // false under NO_COLOR or on a dumb terminal
	// GoneAfter is how long vanished sockets stay on screen, marked gone.
	GoneAfter time.Duration
	// Now returns the time; tests pin it. Defaults to time.Now.
	Now func() time.Time
	// ReadOnly hides and refuses every action.
	ReadOnly bool
	// Admin is who marks a listener, prefilled in the form.
	Admin string
}
