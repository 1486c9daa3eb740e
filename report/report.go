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
	slices.SortFunc(judged, func(x, y verdict.Judged) int {
		a, b := x.Socket, y.Socket
		return cmp.Or(
			cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.IPVersion(), b.IPVersion()),
			a.Local.Addr().Compare(b.Local.Addr()),
			cmp.Compare(a.Local.Port(), b.Local.Port()),
			a.Remote.Addr().Compare(b.Remote.Addr()),
			cmp.Compare(a.Remote.Port(), b.Remote.Port()),
			cmp.Compare(a.Inode, b.Inode),
		)
	})
}
