package verdict

import (
	"slices"

	"github.com/portwarden/portwarden/sockets"
)

// reuse copies into out the verdicts of before that stand for snap's
// sockets, and returns how many connections' it copied. A socket's verdict
// stands when it is the same socket (Socket.Unchanged), none of its holders
// resigned, and: for a connection, found at the same index, with the same
// listeners on its port (an inbound connection is judged by the listener
// that accepted it); for a listener, found on the same port anywhere.
// Where the snapshot says what it kept of the one judged before
// (Snapshot.Kept), the connections it kept are not compared.
func reuse(before Earlier, snap *sockets.Snapshot, listeners map[listenKey][]*sockets.Socket, out []Judged) int {
	socks, resigned := snap.Sockets, before.Resigned
	// same[i]: socks[i] is known to be before's socket at i, unchanged.
	var same []bool
	if base, n, changed, ok := snap.Kept(); ok && base == before.Seq && before.Seq != 0 && n <= len(before.Judged) && n <= len(socks) {
		same = make([]bool, n)
		for i := range same {
			same[i] = true
		}
		for _, i := range changed {
			if int(i) < n {
				same[i] = false
			}
		}
	}
	known := func(i int) bool { return i < len(same) && same[i] }
	heldByResigned := func(s *sockets.Socket) bool {
		return len(resigned) > 0 && slices.ContainsFunc(s.Processes, func(p *sockets.Process) bool { return resigned[p.PID] })
	}
	stands := func(was, s *sockets.Socket) bool { return was.Unchanged(s) && !heldByResigned(s) }

	at := make(map[*sockets.Socket]int, len(listeners)) // the listeners' indexes in socks
	for i := snap.FirstListener(); i < len(socks); i++ {
		if socks[i].Listening() {
			at[&socks[i]] = i
		}
	}
	then := make(map[listenKey][]int, len(listeners)) // the listeners in before, by index
	first := snap.FirstListener()
	for i := range before.Judged {
		if known(i) && (i < first || !socks[i].Listening()) {
			continue // the same socket as now's: no listener
		}
		if s := before.Judged[i].Socket; s != nil && s.Listening() {
			k := listenKeyOf(s)
			then[k] = append(then[k], i)
		}
	}
	moved := map[listenKey]bool{} // ports whose listeners came, went or changed
	for k, ls := range listeners {
		if !slices.EqualFunc(ls, then[k], func(l *sockets.Socket, j int) bool { return l.Unchanged(before.Judged[j].Socket) }) {
			moved[k] = true
		}
		for _, l := range ls {
			for _, j := range then[k] {
				if stands(before.Judged[j].Socket, l) {
					out[at[l]] = Judged{Socket: l, Verdict: before.Judged[j].Verdict}
					break
				}
			}
		}
	}
	for k := range then {
		if _, ok := listeners[k]; !ok {
			moved[k] = true
		}
	}

	// Most connections are on ports no listener came to or went from:
	// their ports are looked up in a bit set before the map.
	var movedPorts [1 << 16 / 64]uint64
	for k := range moved {
		port := uint16(k.protoPort)
		movedPorts[port/64] |= 1 << (port % 64)
	}
	onMovedPort := func(s *sockets.Socket) bool {
		port := s.Local.Port()
		return movedPorts[port/64]&(1<<(port%64)) != 0 && moved[listenKeyOf(s)]
	}
	copied := 0
	for i := range min(len(before.Judged), len(socks)) {
		s := &socks[i]
		if s.Listening() || onMovedPort(s) {
			continue
		}
		if known(i) {
			if heldByResigned(s) {
				continue
			}
		} else if was := before.Judged[i].Socket; was == nil || was.Listening() || !stands(was, s) {
			continue
		}
		out[i] = Judged{Socket: s, Verdict: before.Judged[i].Verdict}
		copied++
	}
	return copied
}
