package app

import (
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// JudgePast judges lifetimes the flight recorder saw end, as a check
// judges live sockets: a listener against the baseline, a connection by its
// peer, its service and the listener it came to (past or, from in, still
// there). What the firewall did then is not known, so no past listener's
// reach is: one bound to loopback is reachable from this host only, any
// other is judged by its bind alone. The verdicts are in past's order.
func (a *App) JudgePast(in *Inspection, past []history.Lifetime) []verdict.Judged {
	if len(past) == 0 {
		return nil
	}
	snap := &sockets.Snapshot{Sockets: make([]sockets.Socket, 0, len(past))}
	for i := range past {
		snap.Sockets = append(snap.Sockets, pastSocket(&past[i]))
	}
	// The live listeners, so an old connection to one is judged by it.
	for i := range in.Snapshot.Sockets {
		if s := &in.Snapshot.Sockets[i]; s.Listening() {
			snap.Sockets = append(snap.Sockets, *s)
		}
	}
	ifs, _ := verdict.LocalInterfaces()
	assessor := &verdict.Assessor{Catalog: a.catalog, Baseline: in.Baseline, Interfaces: ifs}
	return assessor.Assess(snap)[:len(past)]
}

// pastSocket is the socket a lifetime was, with what the record kept of
// its process.
func pastSocket(l *history.Lifetime) sockets.Socket {
	s := sockets.Socket{Proto: l.Proto, Local: l.Local, NetNS: l.Owner.NetNS, State: sockets.Established}
	if l.Kind == history.Listener {
		s.State = sockets.Listen
		if l.Proto == sockets.UDP {
			s.State = sockets.Close
		}
	} else {
		s.Remote = l.Remote
	}
	if l.Owner.PID != 0 || l.Owner.Process != "" {
		s.Processes = []*sockets.Process{{PID: l.Owner.PID, Name: l.Owner.Process, Exe: l.Owner.Exe, User: l.Owner.User}}
	}
	return s
}
