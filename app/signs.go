package app

import (
	"slices"
	"strings"

	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/sockets"
)

// readSigns reads the signs of a rogue process on every process holding
// a socket of snap — each once per process start — with those of the
// packet and raw sockets it holds, and adds what could not be read to the
// snapshot's warnings.
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
		switch {
		case s == nil:
			return "", false
		case s.State == sockets.Listen:
			return "a " + strings.ToUpper(s.Proto.Name()) + " listener on " + s.Local.String(), true
		case s.Remote.Port() == 0:
			return "a " + strings.ToUpper(s.Proto.Name()) + " socket on " + s.Local.String(), true
		}
		return "a " + strings.ToUpper(s.Proto.Name()) + " connection to " + s.Remote.String(), true
	}
	rawOf := map[int][]*sockets.RawSocket{}
	for i := range snap.Raw {
		for _, p := range snap.Raw[i].Processes {
			rawOf[p.PID] = append(rawOf[p.PID], &snap.Raw[i])
		}
	}
	out := map[int][]signs.Sign{}
	seen := map[int]uint64{}
	for _, p := range snap.Holders() {
		seen[p.PID] = p.StartTicks
		found, warnings := a.signs.Of(p, network)
		if held := rawOf[p.PID]; len(held) > 0 {
			found = append(slices.Clip(found), signs.OfRaw(p, held)...)
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
