package verdict

import (
	"slices"

	"github.com/portwarden/portwarden/sockets"
)

// reuse copies into out the verdicts of before that stand for snap's
// sockets, and returns how many connections' it copied. A socket's verdict
// stands when it is the same socket (Socket.Unchanged), none of its holders
// resigned, and: for a listener, found on the same port anywhere; for a
// connection, found at the same index, with the same listeners on its port
// (an inbound connection is judged by the listener that accepted it).
// Where the snapshot says what it kept of the one judged before
// (Snapshot.Kept), the connections it kept are not compared.
func reuse(before Earlier, snap *sockets.Snapshot, listeners Listeners, out []Judged) int {
	r := reuser{before: before, snap: snap, same: keptOf(before, snap)}
	moved := r.listeners(listeners, out)
	return r.connections(moved, out)
}

// reuser is what reuse knows of the two judgements.
type reuser struct {
	before Earlier
	snap   *sockets.Snapshot
	same   []bool // same[i]: the socket at i is before's, unchanged
}

// keptOf says, by index, which of snap's sockets are known to be those
// before judged, unchanged: nil when snap does not follow before's.
func keptOf(before Earlier, snap *sockets.Snapshot) []bool {
	base, n, changed, ok := snap.Kept()
	if !ok || base != before.Seq || before.Seq == 0 || n > len(before.Judged) || n > len(snap.Sockets) {
		return nil
	}
	same := make([]bool, n)
	for i := range same {
		same[i] = true
	}
	for _, i := range changed {
		if int(i) < n {
			same[i] = false
		}
	}
	return same
}

func (r *reuser) known(i int) bool { return i < len(r.same) && r.same[i] }

func (r *reuser) resigned(s *sockets.Socket) bool {
	return len(r.before.Resigned) > 0 &&
		slices.ContainsFunc(s.Processes, func(p *sockets.Process) bool { return r.before.Resigned[p.PID] })
}

func (r *reuser) stands(was, s *sockets.Socket) bool { return was.Unchanged(s) && !r.resigned(s) }

// listeners copies the verdicts of the listeners found again, and returns
// the ports whose listeners came, went or changed.
func (r *reuser) listeners(now Listeners, out []Judged) *portSet {
	socks, judged, first := r.snap.Sockets, r.before.Judged, r.snap.FirstListener()
	at := make(map[*sockets.Socket]int, len(now)) // the listeners' indexes in socks
	for i := first; i < len(socks); i++ {
		if socks[i].Listening() {
			at[&socks[i]] = i
		}
	}
	then := make(map[listenKey][]int, len(now)) // the listeners in before, by index
	for i := range judged {
		if r.known(i) && (i < first || !socks[i].Listening()) {
			continue // the same socket as now's: no listener
		}
		if s := judged[i].Socket; s != nil && s.Listening() {
			then[listenKeyOf(s)] = append(then[listenKeyOf(s)], i)
		}
	}
	moved := &portSet{keys: map[listenKey]bool{}}
	for k, ls := range now {
		if !slices.EqualFunc(ls, then[k], func(l *sockets.Socket, j int) bool { return l.Unchanged(judged[j].Socket) }) {
			moved.add(k)
		}
		for _, l := range ls {
			if j := slices.IndexFunc(then[k], func(j int) bool { return r.stands(judged[j].Socket, l) }); j >= 0 {
				out[at[l]] = Judged{Socket: l, Verdict: judged[then[k][j]].Verdict}
			}
		}
	}
	for k := range then {
		if _, ok := now[k]; !ok {
			moved.add(k)
		}
	}
	return moved
}

// connections copies the verdicts of the connections that stand, and
// returns how many.
func (r *reuser) connections(moved *portSet, out []Judged) int {
	socks, judged := r.snap.Sockets, r.before.Judged
	copied := 0
	for i := range min(len(judged), len(socks)) {
		s := &socks[i]
		if s.Listening() || moved.has(s) {
			continue
		}
		if r.known(i) {
			if r.resigned(s) {
				continue
			}
		} else if was := judged[i].Socket; was == nil || was.Listening() || !r.stands(was, s) {
			continue
		}
		out[i] = Judged{Socket: s, Verdict: judged[i].Verdict}
		copied++
	}
	return copied
}

// portSet holds listener keys. Most connections are on ports no listener
// came to or went from: their ports are looked up in a bit set before the
// map.
type portSet struct {
	bits [1 << 16 / 64]uint64
	keys map[listenKey]bool
}

func (p *portSet) add(k listenKey) {
	port := uint16(k.protoPort)
	p.bits[port/64] |= 1 << (port % 64)
	p.keys[k] = true
}

func (p *portSet) has(s *sockets.Socket) bool {
	port := s.Local.Port()
	return p.bits[port/64]&(1<<(port%64)) != 0 && p.keys[listenKeyOf(s)]
}
