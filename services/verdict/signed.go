package verdict

import (
	"slices"
	"strconv"

	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/sockets"
)

// signedProcess is a process's signs as its sockets' verdicts carry them.
type signedProcess struct {
	signs   []signs.Sign
	reasons []string
	risk    catalog.Risk
	alone   [][]signs.Sign // {signs}: Verdict.Signs of a socket it holds alone, shared
}

// signed adds the signs of the socket's processes: each raises the risk
// to its own and is named first among the reasons. A process's signs are
// judged once per Assess, however many sockets it holds.
func (a *Assessor) signed(s *sockets.Socket, v *Verdict) {
	if a.Signs == nil {
		return
	}
	if len(s.Processes) == 1 {
		// The common case, 100k times over on a busy host: the process's
		// words are shared, clipped so an append copies, not allocated
		// per socket.
		sp := a.signedOf(s.Processes[0])
		if sp.signs == nil {
			return
		}
		v.Signs, v.Risk = sp.alone, max(v.Risk, sp.risk)
		if len(v.Reasons) == 0 {
			v.Reasons = slices.Clip(sp.reasons)
		} else {
			v.Reasons = append(slices.Clip(sp.reasons), v.Reasons...)
		}
		return
	}
	var reasons []string
	for i, p := range s.Processes {
		sp := a.signedOf(p)
		if sp.signs == nil {
			continue
		}
		if v.Signs == nil {
			v.Signs = make([][]signs.Sign, len(s.Processes))
		}
		v.Signs[i] = sp.signs
		v.Risk = max(v.Risk, sp.risk)
		reasons = append(reasons, sp.reasons...)
	}
	if reasons != nil {
		v.Reasons = append(reasons, v.Reasons...)
	}
}

// signedOf judges p's signs once per Assess.
func (a *Assessor) signedOf(p *sockets.Process) signedProcess {
	sp, ok := a.signedBy[p]
	if !ok {
		sp = a.judgeSigns(p)
		a.signedBy[p] = sp
	}
	return sp
}

// judgeSigns marks the signs the baseline acknowledges for p's binary and
// words the others.
func (a *Assessor) judgeSigns(p *sockets.Process) signedProcess {
	found := a.Signs(p)
	if len(found) == 0 {
		return signedProcess{}
	}
	sp := signedProcess{signs: slices.Clone(found)} // the reader's are shared: marks go on a copy
	// Much sent out is acknowledged for a known program only while it
	// shows no other sign: a backup tool swapped or misnamed is no backup.
	otherSigns := slices.ContainsFunc(found, func(sg signs.Sign) bool {
		return sg.Code != signs.BulkOutbound && a.Baseline.Acknowledged(string(sg.Code), p.Exe) == nil
	})
	for k, sg := range found {
		if ack := a.Baseline.Acknowledged(string(sg.Code), p.Exe); ack != nil && !(sg.Code == signs.BulkOutbound && otherSigns) {
			sp.signs[k].Ack = ack.Reason
			sp.reasons = append(sp.reasons, "sign acknowledged in the baseline: "+string(sg.Code)+" ("+ack.Reason+")")
			continue
		}
		sp.risk = max(sp.risk, sg.Risk)
		sp.reasons = append(sp.reasons, "sign of a rogue process: "+string(sg.Code)+" — "+sg.Detail+" (pid "+strconv.Itoa(p.PID)+")")
	}
	sp.alone = [][]signs.Sign{sp.signs}
	return sp
}
