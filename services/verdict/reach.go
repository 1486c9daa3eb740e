package verdict

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets"
)

// Reach is the widest class of sources the firewall lets reach a
// listener: from the firewall's decision when it was evaluated, else ""
// (a loopback bind is ReachHost whatever the firewall).
func (v *Verdict) Reach() firewall.Reach {
	switch {
	case v.Exposure == ExposureLoopback:
		return firewall.ReachHost
	case v.Firewall != nil:
		return v.Firewall.Reach
	}
	return ""
}

// Unreachable reports whether nothing outside this host can open a
// connection to a listener: it is bound to loopback, or the firewall
// stops every outside source.
func (v *Verdict) Unreachable() bool {
	r := v.Reach()
	return r == firewall.ReachHost || r == firewall.ReachNone
}

// firewallReason is the short reason the firewall adds to an unexpected
// listener's, or "".
func firewallReason(d *firewall.Decision) string {
	if d == nil {
		return ""
	}
	switch d.Reach {
	case firewall.ReachPublic:
		if len(d.Sources) > 0 {
			return "firewall admits some public sources"
		}
		if d.Chain == "" {
			return "no firewall rule stops it"
		}
		return "firewall lets the public in (" + d.Chain + ")"
	case firewall.ReachInternal:
		return "firewall admits internal networks only"
	case firewall.ReachHost, firewall.ReachNone:
		return "firewall blocks it from outside"
	case firewall.ReachUnknown:
		return "firewall not evaluated: " + d.Why
	}
	return ""
}

// ExplainReach says, for someone learning, who the firewall lets open a
// connection to a listener and which rule decides it; "" when the
// firewall was not evaluated.
func ExplainReach(s *sockets.Socket, v *Verdict) string {
	d := v.Firewall
	if d == nil {
		return ""
	}
	bind := "bound to " + s.Local.Addr().WithZone("").Unmap().String()
	if c := v.Contained; c != nil && len(c.Published) > 0 {
		bind = "published on the host for container " + c.Container
	}
	rule := ruleSentence(d)
	var b strings.Builder
	switch d.Reach {
	case firewall.ReachPublic:
		b.WriteString("Reachable from the Internet: " + bind + ", and " + rule + ".")
		if len(d.Sources) > 0 {
			b.WriteString(" Only some sources get through: " + prefixes(d.Sources) + ".")
		}
	case firewall.ReachInternal:
		b.WriteString("Reachable from internal networks only: " + rule + " for the public")
		if len(d.Sources) > 0 {
			b.WriteString("; " + prefixes(d.Sources) + " get through")
		}
		b.WriteString(".")
	case firewall.ReachHost, firewall.ReachNone:
		if v.Exposure == ExposureLoopback {
			b.WriteString("Reachable from this host only: " + bind + ".")
			if d.Reach == firewall.ReachNone {
				b.WriteString(" And " + rule + ", so even this host cannot connect.")
			}
			break
		}
		b.WriteString("Blocked from outside: " + rule)
		if d.Host {
			b.WriteString("; this host can still connect over loopback.")
		} else {
			b.WriteString("; this host cannot connect either.")
		}
	case firewall.ReachUnknown:
		b.WriteString("Unknown: portwarden could not follow the firewall here (" + d.Why + ")")
		if ref := d.RuleRef(); ref != "" {
			b.WriteString(", at " + ref)
		}
		b.WriteString(". It is judged by its bind address alone.")
	}
	if what := verdictMeaning[d.Verdict]; what != "" && d.Reach != firewall.ReachUnknown {
		b.WriteString(" " + what)
	}
	return b.String()
}

// ruleSentence names the rule that decided, as a clause: "table inet
// filter, chain input accepts it (rule 12: tcp dport 8080 accept)".
func ruleSentence(d *firewall.Decision) string {
	if d.Chain == "" {
		if d.Verdict == firewall.VerdictAccept {
			return "no firewall rule in its network namespace stops new connections"
		}
		return "the firewall " + verbs[d.Verdict] + " it"
	}
	where := d.Chain
	if f := strings.Fields(d.Chain); len(f) == 3 {
		where = "table " + f[0] + " " + f[1] + ", chain " + f[2]
	}
	if d.Handle == 0 {
		return where + " " + verbs[d.Verdict] + " it by its policy, as no rule decides"
	}
	return where + " " + verbs[d.Verdict] + " it (rule " + strconv.FormatUint(d.Handle, 10) + ": " + d.Rule + ")"
}

var verbs = map[string]string{firewall.VerdictAccept: "accepts", firewall.VerdictDrop: "drops",
	firewall.VerdictReject: "rejects", firewall.VerdictRedirect: "redirects", firewall.VerdictUnknown: "decides"}

// verdictMeaning says what a verdict does to the client.
var verdictMeaning = map[string]string{
	firewall.VerdictDrop:     "Drop discards the packet silently: a client waits, then times out.",
	firewall.VerdictReject:   "Reject answers with an error: a client sees \"connection refused\" or \"port unreachable\" at once.",
	firewall.VerdictRedirect: "A DNAT rule sends new connections to this port to another address before they reach this listener.",
}

func prefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}
