//go:build !linux

package firewall

import (
	"errors"
	"net/netip"

	"github.com/portwarden/portwarden/sockets"
)

var errNoNftables = errors.New("evaluating the firewall needs Linux's nftables")

// Ruleset stands for a ruleset where none can be read.
type Ruleset struct {
	Generation uint32
	LegacySum  uint64
	UsesIPSets bool
	IPSetSum   uint64
}

// Empty reports that there is nothing to evaluate.
func (rs *Ruleset) Empty() bool { return true }

// Decide cannot decide without nftables.
func (rs *Ruleset) Decide(sc *Scope, l Listener) Decision {
	return Decision{Reach: ReachUnknown, Verdict: VerdictUnknown, Why: errNoNftables.Error()}
}

// DecideForwarded cannot decide without nftables.
func DecideForwarded(outer *Ruleset, outerScope *Scope, proto sockets.Proto, hostPort, to netip.AddrPort, inner *Ruleset, innerScope *Scope) Decision {
	return Decision{Reach: ReachUnknown, Verdict: VerdictUnknown, Why: errNoNftables.Error()}
}
