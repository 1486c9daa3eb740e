package app

import (
	"reflect"
	"slices"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// judgement is the last inspection's verdicts and what they were judged
// on. When a refresh finds the same sockets (the collector hands back the
// same slice when nothing changed) and the same of everything else, the
// verdicts stand: judging 100k sockets again would cost more than
// collecting them did.
type judgement struct {
	on     judgedOn
	judged []verdict.Judged
}

// judgedOn is everything a verdict depends on.
type judgedOn struct {
	sockets    []sockets.Socket
	baseline   *baseline.Baseline // the same pointer while its content stays the same
	firewalls  map[uint64]*nsFirewall
	blocks     []block.Block
	containers *container.Index
	interfaces verdict.Interfaces
	signs      map[int][]signs.Sign
}

// same reports whether o is what j was judged on.
func (j *judgedOn) same(o *judgedOn) bool {
	return len(j.sockets) == len(o.sockets) && (len(j.sockets) == 0 || &j.sockets[0] == &o.sockets[0]) &&
		j.baseline == o.baseline && sameFirewalls(j.firewalls, o.firewalls) && slices.Equal(j.blocks, o.blocks) &&
		reflect.DeepEqual(j.containers, o.containers) && reflect.DeepEqual(j.interfaces, o.interfaces) &&
		reflect.DeepEqual(j.signs, o.signs)
}

// sameFirewalls compares two readings of every namespace's firewall: the
// same compiled ruleset (kept while the kernel's generation stays), the
// same interfaces and the same error.
func sameFirewalls(a, b map[uint64]*nsFirewall) bool {
	if len(a) != len(b) {
		return false
	}
	for ns, fa := range a {
		fb := b[ns]
		if fb == nil || fa.rules != fb.rules || errText(fa.err) != errText(fb.err) || !reflect.DeepEqual(fa.scope, fb.scope) {
			return false
		}
	}
	return true
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// mergedBaseline is a baseline with the networks Options.Internal adds,
// kept while the baseline it came from stays the same.
type mergedBaseline struct {
	from, merged *baseline.Baseline
}
