package verdict

import (
	"hash/maphash"
	"slices"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/signs"
)

// interner keeps one copy of each distinct verdict an Assess makes. On a
// busy host most connections share theirs — the same peer class,
// direction, service and reasons — and at 192 bytes a verdict, 100k of
// them were the largest part of a snapshot's memory. Verdicts are
// read-only once judged, so sockets may share one.
type interner struct {
	seed  maphash.Seed
	seen  map[verdictKey][]*Verdict
	chunk []Verdict // new verdicts go here; a full chunk is left to its holders
}

// verdictKey is a verdict's comparable part, with its reasons hashed and
// its signs by identity (a process's are shared between its sockets).
type verdictKey struct {
	service, iface       string
	known                *catalog.Entry
	exposure             Exposure
	peer                 Peer
	direction            Direction
	contained            *Containment
	firewall             *firewall.Decision
	blocked              *block.Block
	baseline             *baseline.Entry
	outbound             *baseline.Outbound
	expected, unexpected bool
	undocumented         bool
	external, login      bool
	risk                 catalog.Risk
	reasons              uint64
	signs                *[]signs.Sign
	nsigns               int
}

func newInterner() *interner {
	return &interner{seed: maphash.MakeSeed(), seen: map[verdictKey][]*Verdict{}}
}

// intern returns the verdict equal to v kept so far, or a kept copy of v.
func (in *interner) intern(v *Verdict) *Verdict {
	k := verdictKey{service: v.Service, iface: v.Interface, known: v.Known, exposure: v.Exposure, peer: v.Peer,
		direction: v.Direction, contained: v.Contained, firewall: v.Firewall, blocked: v.Blocked, baseline: v.Baseline,
		outbound: v.Outbound, expected: v.Expected, unexpected: v.Unexpected, undocumented: v.UndocumentedOutbound,
		external: v.External, login: v.LoginAttempt, risk: v.Risk, nsigns: len(v.Signs)}
	if len(v.Signs) > 0 {
		k.signs = &v.Signs[0]
	}
	var h maphash.Hash
	h.SetSeed(in.seed)
	for _, r := range v.Reasons {
		h.WriteString(r)
		h.WriteByte(0)
	}
	k.reasons = h.Sum64()
	for _, kept := range in.seen[k] {
		if slices.Equal(kept.Reasons, v.Reasons) {
			return kept
		}
	}
	if len(in.chunk) == cap(in.chunk) {
		in.chunk = make([]Verdict, 0, 1024)
	}
	in.chunk = append(in.chunk, *v)
	kept := &in.chunk[len(in.chunk)-1]
	in.seen[k] = append(in.seen[k], kept)
	return kept
}
