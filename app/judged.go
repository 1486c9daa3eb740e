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
// collecting them did. When a few sockets or signs changed, only the
// sockets they touch are judged again (verdict.AssessAgain).
type judgement struct {
	on     judgedOn
	judged []verdict.Judged
	seq    uint64 // the snapshot's (sockets.Snapshot.Seq)
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

// sameSockets reports whether o's sockets are j's: the same slice, which
// the collector hands back when nothing changed.
func (j *judgedOn) sameSockets(o *judgedOn) bool {
	return len(j.sockets) == len(o.sockets) && (len(j.sockets) == 0 || &j.sockets[0] == &o.sockets[0])
}

// sameWorld reports whether o is what j was judged on but its sockets and
// their processes' signs: then the verdicts of the sockets that did not
// change, held by processes whose signs did not, stand.
func (j *judgedOn) sameWorld(o *judgedOn) bool {
	return j.baseline == o.baseline && sameFirewalls(j.firewalls, o.firewalls) && slices.Equal(j.blocks, o.blocks) &&
		reflect.DeepEqual(j.containers, o.containers) && reflect.DeepEqual(j.interfaces, o.interfaces)
}

// resigned lists the processes, by PID, whose signs differ in now from
// those in was.
func resigned(was, now map[int][]signs.Sign) map[int]bool {
	out := map[int]bool{}
	for pid, s := range now {
		if !slices.Equal(s, was[pid]) {
			out[pid] = true
		}
	}
	for pid := range was {
		if _, ok := now[pid]; !ok {
			out[pid] = true
		}
	}
	return out
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
