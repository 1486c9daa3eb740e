// Package ui is portwarden's live dashboard: a Bubble Tea program that
// shows the sockets of the machine with their verdicts, refreshes on its
// own, and explains each row. It does no I/O of its own: everything comes
// from a Backend (the application layer), called only inside tea.Cmds.
package ui

import (
	"syscall"
	"time"

	"github.com/portwarden/portwarden/services/block"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
)

// Backend is what the dashboard asks of the rest of portwarden; *app.App
// is the real one. Its methods may block on I/O and are only ever called
// from tea.Cmds, with values captured when the command was made.
type Backend interface {
	// Inspect collects and judges every socket.
	Inspect(q sockets.Query) (*app.Inspection, error)
	// Origin tells how a process was started.
	Origin(p *sockets.Process) origin.Info
	// ExplainPort says what a port number's range means.
	ExplainPort(port uint16) string
	// SocketUnits names the systemd socket units a listener held by
	// systemd itself belongs to (socket activation).
	SocketUnits(s *sockets.Socket) []string
	// FirstSeen says since when the flight recorder has seen s open;
	// false when it has not (no record, or not in it).
	FirstSeen(s *sockets.Socket) (time.Time, bool)

	// Mark adds baseline entries; Unmark removes the entries with e's key.
	Mark(entries ...baseline.Entry) error
	Unmark(e baseline.Entry) error
	// PlanKill checks, against the snapshot the admin saw, whether t may
	// be signalled and says what else to know; Kill carries the plan out,
	// or records its refusal.
	PlanKill(snap *sockets.Snapshot, t action.Target, sig syscall.Signal) *app.KillPlan
	Kill(p *app.KillPlan, forced bool) (ended bool, err error)
	// PlanDisable says how to disable the services behind sockets;
	// Disable makes exactly those changes.
	PlanDisable(containers *container.Index, socks []*sockets.Socket, how disable.How) (*app.DisablePlan, error)
	Disable(p *app.DisablePlan, forced bool) error
	// PlanClose says what closing connections cuts; Close cuts them in
	// their own namespaces, or records the refusal.
	PlanClose(snap *sockets.Snapshot, socks []*sockets.Socket) *app.ClosePlan
	Close(snap *sockets.Snapshot, p *app.ClosePlan, forced bool) (int, error)
	// History reads the flight recorder's lifetimes of window w, judged
	// (nil when no record is read).
	History(in *app.Inspection, w app.HistoryWindow) *app.Recent
	// Peers gathers every remote address of in with what is known of it
	// (nil when peers are not read).
	Peers(in *app.Inspection) *app.PeersView
	// PlanBlock says what blocking a peer stops; Block puts it in place.
	PlanBlock(snap *sockets.Snapshot, blk block.Block) *app.BlockPlan
	Block(p *app.BlockPlan, forced bool) error
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
