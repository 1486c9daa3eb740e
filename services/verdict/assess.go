package verdict

import "github.com/portwarden/portwarden/sockets"

// Assess judges every socket of snap. Each Judged points into
// snap.Sockets, which must not be reordered afterwards: sort the judged
// sockets instead.
func (a *Assessor) Assess(snap *sockets.Snapshot) []Judged { return a.AssessAgain(Earlier{}, snap) }

// Earlier is a judgement AssessAgain may take verdicts from.
type Earlier struct {
	Judged []Judged // what Assess or AssessAgain gave
	// Seq is the judged snapshot's (Snapshot.Seq), when it had one: a
	// snapshot that says what it kept of that one (Snapshot.Kept) spares
	// comparing sockets.
	Seq uint64
	// Resigned are the processes, by PID, whose signs changed since.
	Resigned map[int]bool
}

// AssessAgain judges snap as Assess does, but takes from before — judged
// by an Assessor alike in all but its snapshot and the signs of the
// processes before.Resigned names — the verdict of each connection found
// at the same index as the same socket (Socket.Unchanged), with the same
// listeners on its port and no holder resigned. A collector that keeps
// its table in order (the IncrementalCollector) makes a refresh that
// changed a few sockets judge those few. A listener's verdict stands
// wherever it is found again.
func (a *Assessor) AssessAgain(before Earlier, snap *sockets.Snapshot) []Judged {
	socks := snap.Sockets
	listeners := listenersOf(snap)
	out := make([]Judged, len(socks))
	kept := 0
	if len(before.Judged) > 0 {
		kept = reuse(before, snap, listeners, out)
	}
	a.signedBy = map[*sockets.Process]signedProcess{}
	verdicts := newInterner()
	// Listeners first, here: judging one asks the callbacks that follow
	// firewalls and containers.
	for i := snap.FirstListener(); i < len(socks); i++ {
		if socks[i].Listening() && out[i].Verdict == nil {
			var v Verdict
			a.listener(&socks[i], &v)
			a.signed(&socks[i], &v)
			out[i].Socket, out[i].Verdict = &socks[i], verdicts.intern(&v)
		}
	}
	// Then connections, most of a busy host's sockets: on two cores past
	// a few thousand, each half with its own memory of processes and
	// verdicts (a verdict the halves share is kept twice, at most).
	if len(socks)-kept < parallelFrom {
		a.connections(socks, listeners, out, verdicts)
		return out
	}
	half := len(socks) / 2
	second := *a
	second.signedBy = map[*sockets.Process]signedProcess{}
	done := make(chan struct{})
	go func() {
		second.connections(socks[half:], listeners, out[half:], newInterner())
		close(done)
	}()
	a.connections(socks[:half], listeners, out[:half], verdicts)
	<-done
	return out
}

// Listeners indexes a snapshot's listeners by namespace, protocol and
// port: which accepted a connection.
type Listeners map[listenKey][]*sockets.Socket

// ListenersOf indexes the listeners of snap.
func ListenersOf(snap *sockets.Snapshot) Listeners { return listenersOf(snap) }

// Accepting returns the listener that accepted connection s, or nil when s
// was opened from this side.
func (l Listeners) Accepting(s *sockets.Socket) *sockets.Socket {
	if s.Listening() {
		return nil
	}
	return accepting(s, l[listenKeyOf(s)])
}

// listenersOf indexes the listeners of snap by namespace, protocol and
// port.
func listenersOf(snap *sockets.Snapshot) Listeners {
	socks := snap.Sockets
	listeners := Listeners{}
	for i := snap.FirstListener(); i < len(socks); i++ {
		if socks[i].Listening() {
			k := listenKeyOf(&socks[i])
			listeners[k] = append(listeners[k], &socks[i])
		}
	}
	return listeners
}

// parallelFrom is how many sockets make judging connections on two cores
// worth a goroutine.
const parallelFrom = 8192

// connections judges the connections among part into out (as long as
// part), interning their verdicts in verdicts, but those out holds.
func (a *Assessor) connections(part []sockets.Socket, listeners Listeners, out []Judged, verdicts *interner) {
	var v Verdict
	for i := range part {
		s := &part[i]
		if s.Listening() || out[i].Verdict != nil { // a listener, or a verdict kept
			continue
		}
		v = Verdict{}
		a.connection(s, listeners, &v)
		a.signed(s, &v)
		out[i].Socket, out[i].Verdict = s, verdicts.intern(&v)
	}
}
