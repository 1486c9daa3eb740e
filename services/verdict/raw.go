package verdict

import (
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/sockets"
)

// JudgedRaw is a packet or raw IP socket with its verdict: the signs of
// its holders (holding it is one, unless the holder is a program that
// rightly does; a filter waiting for a magic packet is another) and what
// is known of who holds it.
type JudgedRaw struct {
	Socket  *sockets.RawSocket
	Verdict *Verdict // never nil; Signs by the index of Socket.Processes
}

// AssessRaw judges each raw socket by its holders' signs, as Assess
// judges a TCP or UDP socket's. Service names what the expected holder
// is ("a DHCP client"), or stays "".
func (a *Assessor) AssessRaw(raws []sockets.RawSocket) []JudgedRaw {
	if a.signedBy == nil {
		a.signedBy = map[*sockets.Process]signedProcess{}
	}
	out := make([]JudgedRaw, len(raws))
	for i := range raws {
		r := &raws[i]
		v := &Verdict{}
		switch {
		case len(r.Processes) == 0:
			v.Reasons = append(v.Reasons, "no process was seen holding it: one this user cannot read, or it is passed between processes")
		default:
			for _, p := range r.Processes {
				if what := signs.ExpectedRawHolder(p); what != "" {
					v.Service = what
					v.Reasons = append(v.Reasons, "held by "+p.Exe+": "+what+", which needs one")
				}
			}
		}
		a.signed(r.Holding(), v)
		if _, signed := v.SignRisk(); !signed && v.Service != "" {
			v.Expected = true
		}
		if v.Risk == catalog.None && len(r.Processes) == 0 {
			v.Risk = catalog.Low
		}
		out[i] = JudgedRaw{Socket: r, Verdict: v}
	}
	return out
}
