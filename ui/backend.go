// Package ui is portwarden's live dashboard: a Bubble Tea program that
// shows the sockets of the machine with their verdicts, refreshes on its
// own, and explains each row. It does no I/O of its own: everything comes
// from a Backend, called only inside tea.Cmds.
package ui

import (
	"time"

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
}
