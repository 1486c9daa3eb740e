package app

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/portwarden/portwarden/services/block"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/sockets"
)

// closeWait is how long Close waits for the kernel to show a connection
// gone.
const closeWait = time.Second

// ClosePlan is exactly which connections a close will cut.
type ClosePlan struct {
	Connections []*sockets.Socket
	// Dangers name the SSH sessions among them, the admin's own first:
	// they are cut only when forced.
	Dangers []string
	// Refused says why nothing will be cut (read-only).
	Refused error
}

// ConnectionID names a connection as close takes it: "LOCAL-REMOTE",
// IPv6 addresses in brackets.
func ConnectionID(s *sockets.Socket) string {
	return unmapped(s.Local).String() + "-" + unmapped(s.Remote).String()
}

func unmapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().WithZone("").Unmap(), a.Port())
}

// BadTarget is a target not written as close takes it.
type BadTarget struct{ Reason string }

func (e *BadTarget) Error() string { return e.Reason }

// CloseTargets finds in snap the connection arg names ("LOCAL-REMOTE"),
// or with peer, every connection whose remote end is arg (an address).
// A malformed arg is a *BadTarget.
func CloseTargets(snap *sockets.Snapshot, arg string, peer bool) ([]*sockets.Socket, error) {
	var match func(s *sockets.Socket) bool
	if peer {
		addr, err := netip.ParseAddr(arg)
		if err != nil {
			return nil, &BadTarget{fmt.Sprintf("--peer: %q is not an address", arg)}
		}
		addr = addr.WithZone("").Unmap()
		match = func(s *sockets.Socket) bool { return s.Remote.Addr().WithZone("").Unmap() == addr }
	} else {
		local, remote, err := parseConnection(arg)
		if err != nil {
			return nil, err
		}
		match = func(s *sockets.Socket) bool { return unmapped(s.Local) == local && unmapped(s.Remote) == remote }
	}
	var out []*sockets.Socket
	for i := range snap.Sockets {
		if s := &snap.Sockets[i]; closable(s) && match(s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no open connection matches %s", arg)
	}
	return out, nil
}

// closable reports whether s is a connection close can cut: not a
// listener, nor a TIME_WAIT or closing socket no process holds.
func closable(s *sockets.Socket) bool {
	switch {
	case s.Listening(), s.Remote.Port() == 0, !s.Remote.Addr().IsValid():
		return false
	case s.State == sockets.TimeWait, s.State == sockets.Close:
		return false
	}
	return true
}

// parseConnection reads "198.51.100.1:2222-198.51.100.7:45910" or
// "[2001:db8::1]:22-[2001:db8::7]:50000".
func parseConnection(arg string) (local, remote netip.AddrPort, err error) {
	bad := &BadTarget{fmt.Sprintf("%q is not a connection: write LOCAL-REMOTE, like 198.51.100.1:22-198.51.100.7:45910 or [2001:db8::1]:22-[2001:db8::7]:45910", arg)}
	for i := strings.Index(arg, "-"); i >= 0; {
		l, errL := netip.ParseAddrPort(arg[:i])
		r, errR := netip.ParseAddrPort(arg[i+1:])
		if errL == nil && errR == nil {
			return unmapped(l), unmapped(r), nil
		}
		next := strings.Index(arg[i+1:], "-")
		if next < 0 {
			break
		}
		i += next + 1
	}
	return local, remote, bad
}

// PlanClose says what closing socks, seen in snap, will cut. It records
// nothing.
func (a *App) PlanClose(snap *sockets.Snapshot, socks []*sockets.Socket) *ClosePlan {
	p := &ClosePlan{Connections: socks}
	if a.opts.ReadOnly {
		p.Refused = ErrReadOnly
		return p
	}
	p.Dangers = a.closeDangers(snap, socks)
	return p
}

// Close cuts each planned connection in its own network namespace, waits
// for the kernel to show it gone, and records each in the audit log. It
// returns how many it closed; a plan with a danger is refused unless
// forced.
func (a *App) Close(snap *sockets.Snapshot, p *ClosePlan, forced bool) (int, error) {
	refused := p.Refused
	if refused == nil && len(p.Dangers) > 0 && !forced {
		refused = ErrSSHSession
	}
	if refused != nil {
		var errs []error
		for _, s := range p.Connections {
			errs = append(errs, a.record(closeRecord(s), refused))
		}
		return 0, errors.Join(errs...)
	}
	closed := 0
	var errs []error
	for _, s := range p.Connections {
		ns := ""
		if n := snap.Namespace(s.NetNS); n != nil && !n.Host {
			ns = n.Path
		}
		err := sockets.Destroy(ns, s)
		if err == nil && !waitUntil(closeWait, func() bool { open, err := sockets.Open(ns, s); return err == nil && !open }) {
			err = fmt.Errorf("%s is still open after SOCK_DESTROY", ConnectionID(s))
		}
		if err == nil {
			closed++
		}
		errs = append(errs, a.record(closeRecord(s), err))
	}
	return closed, errors.Join(errs...)
}

func closeRecord(s *sockets.Socket) audit.Record {
	r := audit.Record{Action: "close", Detail: s.Proto.String() + " " + ConnectionID(s)}
	if len(s.Processes) > 0 {
		r.Target = auditProcess(action.TargetOf(s.Processes[0]))
	}
	return r
}

// BlockPlan is what a block will stop, as the admin is shown it.
type BlockPlan struct {
	Block block.Block
	// Connections are the open connections with the peer now: a block
	// stops their packets too, but closing them is a separate step.
	Connections []*sockets.Socket
	// Dangers say what the block would cut besides the peer's traffic:
	// an SSH session (the admin's own first), a gateway, a resolver,
	// link-local ranges, this host's own addresses, every address. A
	// block with a danger needs forcing.
	Dangers []string
	Refused error
}

// PlanBlock says what blocking blk will stop. It records nothing.
func (a *App) PlanBlock(snap *sockets.Snapshot, blk block.Block) *BlockPlan {
	p := &BlockPlan{Block: blk}
	if snap != nil {
		for i := range snap.Sockets {
			s := &snap.Sockets[i]
			if closable(s) && blk.Covers(s.Remote.Addr(), s.Proto, s.Local.Port()) {
				p.Connections = append(p.Connections, s)
			}
		}
	}
	if a.opts.ReadOnly {
		p.Refused = ErrReadOnly
		return p
	}
	p.Dangers = a.blockDangers(snap, blk)
	return p
}

// Block puts the planned block in place in portwarden's own namespace and
// records it. A plan with a danger is refused unless forced.
func (a *App) Block(p *BlockPlan, forced bool) error {
	r := audit.Record{Action: "block", Detail: p.Block.String() + " " + blockFor(p.Block.For)}
	switch {
	case p.Refused != nil:
		return a.record(r, p.Refused)
	case len(p.Dangers) > 0 && !forced:
		return a.record(r, ErrForce)
	}
	err := block.Blocker{}.Block(p.Block)
	a.rereadPeers() // the Peers view shows the new ban at its next refresh
	return a.record(r, err)
}

// ErrSSHSession refuses a close that would cut an SSH session.
var ErrSSHSession = &action.Refusal{Reason: "refused: this would cut an SSH session; if you mean it, add --force"}

// ErrForce refuses a block that needs --force.
var ErrForce = &action.Refusal{Reason: "refused: this needs --force"}

func blockFor(d time.Duration) string {
	if d == 0 {
		return "until unblocked"
	}
	return "for " + d.String()
}

// Unblock removes the blocks of peer, or with all every block and the
// table, and records it.
func (a *App) Unblock(peer netip.Prefix, all bool) (int, error) {
	detail := block.PeerString(peer)
	if all {
		detail = "all"
	}
	r := audit.Record{Action: "unblock", Detail: detail}
	if a.opts.ReadOnly {
		return 0, a.record(r, ErrReadOnly)
	}
	n, err := block.Blocker{}.Unblock(peer, all)
	a.rereadPeers()
	if err == nil && n == 0 && !all {
		err = fmt.Errorf("%s is not blocked", detail)
	}
	return n, a.record(r, err)
}

// Blocks lists the blocks in place, with the time each has left.
func (a *App) Blocks() ([]block.Block, error) { return block.Blocker{}.List() }

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
