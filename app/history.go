package app

import (
	"errors"
	"net/netip"
	"os"
	"time"

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
	for i := in.Snapshot.FirstListener(); i < len(in.Snapshot.Sockets); i++ {
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
		// No peer, as the kernel reports a listener's: the wildcard of
		// its family, port 0.
		s.Remote = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if l.Local.Addr().Is6() {
			s.Remote = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	} else {
		s.Remote = l.Remote
	}
	if l.Owner.PID != 0 || l.Owner.Process != "" {
		s.Processes = []*sockets.Process{{PID: l.Owner.PID, Name: l.Owner.Process, Exe: l.Owner.Exe, User: l.Owner.User}}
	}
	return s
}

// recentLimit bounds the lifetimes a frame carries: the newest of its
// window. DefaultSpan is the window's length unless asked otherwise.
const (
	recentLimit = 20000
	DefaultSpan = time.Hour
)

// HistoryWindow is the stretch of the record the History view reads.
type HistoryWindow struct {
	Until time.Time     // its end; zero: now, following the record as it grows
	Span  time.Duration // its length; 0: DefaultSpan
}

// Bounds are the window's start and end, read at now.
func (w HistoryWindow) Bounds(now time.Time) (since, until time.Time) {
	until, span := w.Until, w.Span
	if until.IsZero() {
		until = now
	}
	if span <= 0 {
		span = DefaultSpan
	}
	return until.Add(-span), until
}

// Recent is the flight recorder's lifetimes of a window, judged.
type Recent struct {
	Path string
	// Since and Until bound the window read.
	Since, Until time.Time
	// Truncated is set when the window held more than a frame carries:
	// the newest are shown, and a narrower window shows the rest.
	Truncated bool
	// Missing is set when there is no record at Path: no recorder runs.
	Missing bool
	// Err is why the record could not be read.
	Err error
	// Lifetimes are the newest, oldest first; Judged their verdicts, in
	// the same order.
	Lifetimes []history.Lifetime
	Judged    []verdict.Judged
	// Source is how the record was made: by polling, short connections
	// may be missing.
	Source history.Source
	// Gaps are the times in the span read when no recorder ran.
	Gaps []history.Gap
}

// History reads and judges the record's lifetimes of window w (the
// newest recentLimit of them), with the times no recorder ran; nil when
// no record is read (Options.HistoryPath is empty). The dashboard asks
// only while its History view shows.
func (a *App) History(in *Inspection, w HistoryWindow) *Recent {
	if a.opts.HistoryPath == "" || in == nil {
		return nil
	}
	now := time.Now()
	r := &Recent{Path: a.opts.HistoryPath}
	r.Since, r.Until = w.Bounds(now)
	if _, err := os.Stat(r.Path); errors.Is(err, os.ErrNotExist) {
		r.Missing = true
		return r
	}
	db, err := history.Open(r.Path, false)
	if err != nil {
		r.Err = err
		return r
	}
	defer db.Close()
	if r.Source, err = db.Source(); err != nil {
		r.Err = err
		return r
	}
	f := history.Filter{Since: r.Since, Until: r.Until, Last: recentLimit, Keep: a.InNamespaces(in)}
	err = db.Query(f, func(l *history.Lifetime) error {
		r.Lifetimes = append(r.Lifetimes, *l)
		return nil
	})
	if err != nil {
		r.Err, r.Lifetimes = err, nil
		return r
	}
	r.Truncated = len(r.Lifetimes) == recentLimit
	r.Judged = a.JudgePast(in, r.Lifetimes)
	if r.Gaps, err = db.Gaps(r.Since, r.Until, now, history.LockHolder(r.Path) != ""); err != nil {
		r.Err = err
	}
	return r
}

// InNamespaces keeps the lifetimes of the namespaces in read, when the
// options pick some (--netns); nil, keeping all, when they pick all.
func (a *App) InNamespaces(in *Inspection) func(*history.Lifetime) bool {
	if a.opts.NetNS == "" || a.opts.NetNS == "all" {
		return nil
	}
	picked := map[uint64]bool{}
	for _, n := range in.Snapshot.Namespaces {
		picked[n.Inode] = true
	}
	return func(l *history.Lifetime) bool { return picked[l.Owner.NetNS] }
}

// FirstSeen says since when the flight recorder has seen s open: false
// when there is no record, or it holds no open lifetime of s (it began
// before the recorder, or polling has not seen it yet).
func (a *App) FirstSeen(s *sockets.Socket) (time.Time, bool) {
	if a.opts.HistoryPath == "" {
		return time.Time{}, false
	}
	db, err := history.Open(a.opts.HistoryPath, false)
	if err != nil {
		return time.Time{}, false
	}
	defer db.Close()
	f := history.Filter{Open: true, Proto: s.Proto, Kind: history.Connection}
	if s.Listening() {
		f.Kind, f.Port = history.Listener, s.Local.Port()
	} else {
		a := s.Remote.Addr().Unmap()
		f.Peer = netip.PrefixFrom(a, a.BitLen())
	}
	var first time.Time
	db.Query(f, func(l *history.Lifetime) error {
		if l.Owner.NetNS == s.NetNS && unmap(l.Local) == unmap(s.Local) && (s.Listening() || unmap(l.Remote) == unmap(s.Remote)) {
			first = l.FirstSeen
		}
		return nil
	})
	return first, !first.IsZero()
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
