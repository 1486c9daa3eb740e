// Package report renders judged snapshots for scripts and for terminals
// without a dashboard: an aligned table in the manner of `ss -tulpn`, JSON,
// the check's verdict, Prometheus metrics and a Markdown record.
package report

import (
	"cmp"
	"slices"

	"github.com/portwarden/portwarden/services/verdict"
)

// Sort orders judged sockets for display: by protocol, IP version, local
// address and port, then remote address and port. Output is deterministic,
// so two snapshots of the same box diff cleanly.
func Sort(judged []verdict.Judged) {
	// Each key is compared only when those before it tie: cmp.Or would
	// evaluate all seven, two address comparisons among them, every time.
	slices.SortFunc(judged, func(x, y verdict.Judged) int {
		a, b := x.Socket, y.Socket
		if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
			return c
		}
		if c := cmp.Compare(a.IPVersion(), b.IPVersion()); c != 0 {
			return c
		}
		if c := a.Local.Addr().Compare(b.Local.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Local.Port(), b.Local.Port()); c != 0 {
			return c
		}
		if c := a.Remote.Addr().Compare(b.Remote.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Remote.Port(), b.Remote.Port()); c != 0 {
			return c
		}
		return cmp.Compare(a.Inode, b.Inode)
	})
}
