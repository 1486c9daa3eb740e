package verdict

import (
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/sockets"
)

// Policy says what makes `portwarden check` fail, as an admin means it:
// a listener nobody documented, and an external connection only when it
// is unusual. An inbound connection from outside to a listener the
// baseline expects is the service doing its job: never a failure. A
// baseline that documents outbound destinations ([[outbound]]) makes
// every outbound external connection it does not cover fail, and those it
// covers pass whatever their risk.
type Policy struct {
	// FailOn is the least risk at which an unexpected listener fails;
	// None (the default) fails them all.
	FailOn catalog.Risk
	// FailOnExternal is the least risk of the service (as the catalog
	// rates it, before the raise for an external peer) at which an
	// outbound connection to an external address fails. High, the
	// default, catches cleartext remote shells, backdoor ports and IRC,
	// and lets a package download over HTTP pass. Inbound connections to
	// an unexpected listener fail whatever their risk.
	FailOnExternal catalog.Risk
	// FailUnreachable fails unexpected listeners that nothing outside
	// this host can reach (bound to loopback, or firewalled off) too; by
	// default they are reported, not failed.
	FailUnreachable bool
	// FailOnSign is the least risk of a sign of a rogue process that
	// fails, whatever the baseline says; High, the default, lets an
	// unpackaged binary (medium; low under /usr/local and /opt) be shown
	// without failing.
	FailOnSign catalog.Risk
}

// DefaultPolicy fails every unexpected listener, inbound external
// connections to them, and outbound external connections to high-risk
// services.
func DefaultPolicy() Policy {
	return Policy{FailOn: catalog.None, FailOnExternal: catalog.High, FailOnSign: catalog.High}
}

// FailsListener reports whether an unexpected listener fails the check.
func (p Policy) FailsListener(v *Verdict) bool {
	return v.Unexpected && v.Risk >= p.FailOn && (p.FailUnreachable || !v.Unreachable())
}

// FailsExternal reports whether a connection with an external peer is
// unusual enough to fail the check.
func (p Policy) FailsExternal(v *Verdict) bool {
	if !v.External {
		return false
	}
	switch {
	case v.Direction == DirectionInbound:
		return !v.Expected // to a listener the baseline does not cover
	case v.Outbound != nil:
		return false // documented: the admin expects it
	case v.UndocumentedOutbound:
		return true // the baseline documents outbound destinations, and not this one
	}
	return v.Known != nil && v.Known.Risk >= p.FailOnExternal
}

// FailsSigned reports whether the signs of a rogue process on a socket's
// processes fail the check: at or above FailOnSign, even where the
// baseline documents the listener or destination.
func (p Policy) FailsSigned(v *Verdict) bool {
	r, ok := v.SignRisk()
	return ok && r >= p.FailOnSign
}

// Summary counts a snapshot's verdicts under a policy.
type Summary struct {
	Listeners    map[sockets.Proto]int
	Unexpected   int
	UnexpectedBy [catalog.Critical + 1]int // unexpected listeners by risk
	// FailingListeners are the unexpected listeners the policy fails.
	FailingListeners int
	External         map[Direction]int // external connections by direction
	// RiskyExternal are the external connections the policy fails.
	RiskyExternal int
	// Signed are the sockets whose processes show signs the policy fails.
	Signed    int
	SocketsBy [catalog.Critical + 1]int // every socket by risk
	// ByReach counts listeners by reach, where it is known or was tried.
	ByReach map[firewall.Reach]int
	// Unevaluated says why the first listener of unknown reach is so.
	Unevaluated string
	// Raw counts packet and raw sockets by kind, and RawSigned those
	// whose holders show signs the policy fails (see AddRaw).
	Raw       map[sockets.RawKind]int
	RawSigned int
	// Programs counts the eBPF programs on interfaces, and
	// FailingPrograms those no known tool put there, at or above the
	// policy's FailOnSign (see AddPrograms).
	Programs, FailingPrograms int
}

// Summarize counts listeners, unexpected listeners, external connections,
// what fails the policy, and sockets by risk.
func Summarize(judged []Judged, p Policy) Summary {
	s := Summary{Listeners: map[sockets.Proto]int{}, External: map[Direction]int{}, ByReach: map[firewall.Reach]int{}}
	for i := range judged {
		v := judged[i].Verdict
		if sock := judged[i].Socket; sock.Listening() {
			s.Listeners[sock.Proto]++
			if r := v.Reach(); r != "" {
				s.ByReach[r]++
			}
			if v.Reach() == firewall.ReachUnknown && s.Unevaluated == "" {
				s.Unevaluated = v.Firewall.Why
			}
		}
		if v.Unexpected {
			s.Unexpected++
			s.UnexpectedBy[v.Risk]++
			if p.FailsListener(v) {
				s.FailingListeners++
			}
		}
		if v.External {
			s.External[v.Direction]++
			if p.FailsExternal(v) {
				s.RiskyExternal++
			}
		}
		if p.FailsSigned(v) {
			s.Signed++
		}
		s.SocketsBy[v.Risk]++
	}
	return s
}

// ListenerCount is the number of TCP listeners and bound UDP sockets.
func (s Summary) ListenerCount() int { return s.Listeners[sockets.TCP] + s.Listeners[sockets.UDP] }

// OK reports whether `portwarden check` passes.
func (s Summary) OK() bool {
	return s.FailingListeners == 0 && s.RiskyExternal == 0 && s.Signed == 0 && s.RawSigned == 0 && s.FailingPrograms == 0
}

// AddPrograms counts the eBPF programs on interfaces and those that fail.
func (s *Summary) AddPrograms(progs []netprogs.Judged, p Policy) {
	for _, j := range progs {
		s.Programs++
		if p.FailsProgram(j.Verdict) {
			s.FailingPrograms++
		}
	}
}

// FailsProgram reports whether an eBPF program on an interface fails the
// check: one no known tool put there, at or above FailOnSign.
func (p Policy) FailsProgram(v netprogs.Verdict) bool {
	return v.Known == "" && v.Risk >= p.FailOnSign
}

// AddRaw counts the packet and raw sockets and those whose holders' signs
// fail the check.
func (s *Summary) AddRaw(raw []JudgedRaw, p Policy) {
	if s.Raw == nil {
		s.Raw = map[sockets.RawKind]int{}
	}
	for _, j := range raw {
		s.Raw[j.Socket.Kind]++
		if p.FailsSigned(j.Verdict) {
			s.RawSigned++
		}
	}
}
