package peers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/services/verdict"
)

// Event is one line of a peer's story.
type Event struct {
	Time time.Time // zero for what holds now (an open connection, a ban)
	Text string    // may hold hostile text (user names, AS names): render it as such
}

// Story tells what a peer did, oldest first; what holds now (open
// connections, bans) comes last, read at now.
func (p *Peer) Story(now time.Time) []Event {
	var out []Event
	for _, s := range p.Scans {
		ns := ""
		if s.NetNSName != "" {
			ns = " in " + s.NetNSName
		}
		out = append(out, Event{s.First, fmt.Sprintf("%s scan of %s closed port%s%s (%s), %d probe%s, for %s",
			s.Kind, strconv.Itoa(s.Ports), plural(s.Ports), ns, s.PortList, s.Probes, plural(s.Probes), s.Last.Sub(s.First).Round(time.Millisecond))})
	}
	for _, f := range p.Failures {
		out = append(out, Event{f.First, fmt.Sprintf("%d failed %s login%s as %s, the last at %s",
			f.Count, f.Service, plural(f.Count), strings.Join(f.Users, ", "), f.Last.Local().Format("15:04:05"))})
	}
	for _, t := range p.Recorded {
		out = append(out, Event{t.First, fmt.Sprintf("%d %s connection%s %s %s, the last at %s",
			t.Count, t.Direction, plural(t.Count), toward(t.Direction), t.Name(), t.Last.Local().Format("15:04:05"))})
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	for _, t := range p.Now {
		out = append(out, Event{Text: fmt.Sprintf("%d %s connection%s %s %s open", t.Count, t.Direction, plural(t.Count), toward(t.Direction), t.Name())})
	}
	if p.PreAuth > 0 {
		out = append(out, Event{Text: fmt.Sprintf("%d SSH connection%s with nobody logged in (pre-authentication)", p.PreAuth, plural(p.PreAuth))})
	}
	for _, b := range p.Bans {
		out = append(out, Event{Text: fmt.Sprintf("banned by %s, %s", b, b.Until(now))})
	}
	return out
}

// Name is the touched service as the admin reads it: "ssh (tcp/22)".
func (t Touch) Name() string {
	port := t.Proto.String() + "/" + strconv.Itoa(int(t.Port))
	if t.Service == "" {
		return port
	}
	return t.Service + " (" + port + ")"
}

func toward(d verdict.Direction) string {
	if d == verdict.DirectionOutbound {
		return "to its"
	}
	return "to"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
