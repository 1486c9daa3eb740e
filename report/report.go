// Package report renders snapshots for scripts and for terminals without a
// dashboard: an aligned table in the manner of `ss -tulpn`, and JSON.
package report

import (
	"cmp"
	"slices"

	"github.com/portwarden/portwarden/sockets"
)

// Sort orders sockets for display: by protocol, IP version, local address
// and port, then remote address and port. Output is deterministic, so two
// snapshots of the same box diff cleanly.
func Sort(socks []sockets.Socket) {
	slices.SortFunc(socks, func(a, b sockets.Socket) int {
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
