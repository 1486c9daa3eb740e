package app

import (
	"slices"
	"time"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/sockets"
)

// ProgramSign is the code under which the baseline acknowledges an eBPF
// program on an interface for the executable holding it.
const ProgramSign = "network-program"

// programsEvery is how long the programs read stand: attaching one is
// rare, and reading them asks every namespace's every interface.
const programsEvery = 10 * time.Second

// programs is the last reading of the attached programs.
type programs struct {
	at       time.Time
	on       []uint64 // the namespaces read
	list     []netprogs.Program
	warnings []string
}

// readPrograms reads the eBPF programs on every interface of snap's
// namespaces — again when programsEvery has passed or the namespaces
// changed — and judges them against base.
func (a *App) readPrograms(snap *sockets.Snapshot, base *baseline.Baseline) []netprogs.Judged {
	var on []uint64
	for _, ns := range snap.Namespaces {
		on = append(on, ns.Inode)
	}
	if a.progs == nil || time.Since(a.progs.at) >= programsEvery || !slices.Equal(on, a.progs.on) {
		list, warnings := netprogs.Read(procRoot, snap.Namespaces)
		a.progs = &programs{at: time.Now(), on: on, list: list, warnings: warnings}
	}
	for _, w := range a.progs.warnings {
		if !slices.Contains(snap.Warnings, w) {
			snap.Warnings = append(snap.Warnings, w)
		}
	}
	out := make([]netprogs.Judged, 0, len(a.progs.list))
	for _, p := range a.progs.list {
		v := netprogs.Judge(&p)
		if v.Known == "" {
			for _, h := range p.Holders {
				if ack := base.Acknowledged(ProgramSign, h.Exe); ack != nil {
					v = netprogs.Verdict{Known: "the baseline", Reasons: []string{"acknowledged in the baseline for " + h.Exe + ": " + ack.Reason}}
					break
				}
			}
		}
		out = append(out, netprogs.Judged{Program: p, Verdict: v})
	}
	return out
}
