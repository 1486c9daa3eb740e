package app

import (
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/sockets"
)

// readSigns reads the signs of a rogue process on every process holding
// a socket of snap — each once per process start — with those of the
// packet and raw sockets it holds and of the shells one hop from its
// network sockets, and adds what could not be read to the snapshot's
// warnings.
func (a *App) readSigns(snap *sockets.Snapshot) map[int][]signs.Sign {
	var byInode map[uint64]*sockets.Socket // built only if a shell asks
	network := func(inode uint64) (string, bool) {
		if byInode == nil {
			byInode = make(map[uint64]*sockets.Socket)
			for i := range snap.Sockets {
				if s := &snap.Sockets[i]; s.Inode != 0 {
					byInode[s.Inode] = s
				}
			}
		}
		s := byInode[inode]
		if s == nil {
			return "", false
		}
		return describeNetwork(s), true
	}
	rawOf := map[int][]*sockets.RawSocket{}
	for i := range snap.Raw {
		for _, p := range snap.Raw[i].Processes {
			rawOf[p.PID] = append(rawOf[p.PID], &snap.Raw[i])
		}
	}
	idx := a.networkIndex(snap)
	near := a.signs.Near(idx.holders)
	out := map[int][]signs.Sign{}
	seen := map[int]uint64{}
	for _, p := range snap.Holders() {
		seen[p.PID] = p.StartTicks
		found, warnings := a.signs.Of(p, network)
		found = slices.Clip(found) // the reader's: appends copy
		if held := rawOf[p.PID]; len(held) > 0 {
			found = append(found, signs.OfRaw(p, held)...)
		}
		found = append(found, near[p.PID]...)
		if conn := idx.connection[p.PID]; conn != "" && signs.IsShell(p) &&
			!slices.ContainsFunc(found, func(s signs.Sign) bool { return s.Code == signs.ShellOnSocket }) {
			found = append(found, signs.Sign{Code: signs.ShellOnSocket, Risk: signs.ShellOnSocket.Risk(),
				Detail: safetext.Visible(p.Name) + " holds " + conn + " on a descriptor besides its standard streams"})
		}
		for i, s := range found {
			if s.Code == signs.ShellOnSocket || s.Code == signs.ShellNearSocket {
				if by := startedBy(p, idx.listens); by != "" {
					found[i].Detail += "; " + by
				}
			}
		}
		if len(found) > 0 {
			out[p.PID] = found
		}
		for _, w := range warnings {
			if !slices.Contains(snap.Warnings, w) {
				snap.Warnings = append(snap.Warnings, w)
			}
		}
	}
	a.signs.Prune(func(pid int, start uint64) bool { s, ok := seen[pid]; return ok && s == start })
	return out
}

// describeNetwork says what a TCP or UDP socket is, for a sign's detail:
// "a TCP connection to 198.51.100.7:4444".
func describeNetwork(s *sockets.Socket) string {
	proto := strings.ToUpper(s.Proto.Name())
	switch {
	case s.State == sockets.Listen:
		return "a " + proto + " listener on " + s.Local.String()
	case s.Remote.Port() == 0:
		return "a " + proto + " socket on " + s.Local.String()
	}
	return "a " + proto + " connection to " + s.Remote.String()
}

// netIndex is what each process holds of the network, for the signs:
// kept while the collector hands back the same sockets.
type netIndex struct {
	first *sockets.Socket
	n     int
	// holders are the processes holding a TCP or UDP socket, each with
	// one of them (a connection rather than a listener).
	holders    []signs.NetworkHolder
	connection map[int]string // a connection each holds, described
	listens    map[int]string // a listener each holds: its local address
}

// networkIndex indexes snap's sockets by holder: one pass, skipped when
// the sockets are the ones last indexed.
func (a *App) networkIndex(snap *sockets.Snapshot) *netIndex {
	var first *sockets.Socket
	if len(snap.Sockets) > 0 {
		first = &snap.Sockets[0]
	}
	if x := a.netIdx; x != nil && x.first == first && x.n == len(snap.Sockets) {
		return x
	}
	x := &netIndex{first: first, n: len(snap.Sockets), connection: map[int]string{}, listens: map[int]string{}}
	// What each process holds first of each kind.
	type holding struct {
		p                    *sockets.Process
		connection, listener *sockets.Socket
	}
	byPID := map[int]*holding{}
	var recent [1024]*holding // by PID: a few hundred processes hold 100k sockets
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Inode == 0 {
			continue
		}
		for _, p := range s.Processes {
			h := recent[p.PID%len(recent)]
			if h == nil || h.p != p {
				if h = byPID[p.PID]; h == nil {
					h = &holding{p: p}
					byPID[p.PID] = h
				}
				recent[p.PID%len(recent)] = h
			}
			switch {
			case s.Listening():
				if h.listener == nil {
					h.listener = s
				}
			case h.connection == nil && s.Remote.Port() != 0:
				h.connection = s
			}
		}
	}
	for _, pid := range slices.Sorted(maps.Keys(byPID)) { // in the same order each time
		h := byPID[pid]
		if h.listener != nil {
			x.listens[pid] = h.listener.Proto.String() + " " + h.listener.Local.String()
		}
		holds := "a listener on " + x.listens[pid]
		if h.connection != nil {
			holds = describeNetwork(h.connection)
			x.connection[pid] = holds
		}
		x.holders = append(x.holders, signs.NetworkHolder{Process: h.p, Holds: holds})
	}
	a.netIdx = x
	return x
}

// startedBy names the ancestor that holds a listener, past the shells
// between: "started by php pid 812, which serves tcp 0.0.0.0:8080" — the
// service a shell came out of. "" when none does.
func startedBy(p *sockets.Process, listens map[int]string) string {
	info := origin.Describe(procRoot, p.PID, p.PPID, "")
	for i, anc := range info.Parents {
		if i >= 4 {
			break
		}
		if l := listens[anc.PID]; l != "" {
			return "started by " + safetext.Visible(anc.Name) + " pid " + strconv.Itoa(anc.PID) + ", which serves " + l
		}
		if !signs.ShellName(path.Base(anc.Name)) {
			break // the chain leaves the shells: what started them serves nothing
		}
	}
	return ""
}
