package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// Audit is what the Markdown report documents.
type Audit struct {
	Host     string
	Snapshot *sockets.Snapshot
	Judged   []verdict.Judged
	Baseline *baseline.Baseline
	// Containers names the container of each socket; nil when unknown.
	Containers *container.Index
	// Unit names the systemd unit of a process, or "".
	Unit func(*sockets.Process) string
}

// WriteMarkdown writes a document of the open ports for the record or an
// audit: every listener with its service, process, unit, the baseline's
// reason, owner and date, and its risk; then the baseline entries that
// nothing listens on.
func WriteMarkdown(w io.Writer, a Audit) error {
	bw := bufio.NewWriter(w)
	snap := a.Snapshot
	sum := verdict.Summarize(a.Judged, verdict.DefaultPolicy())
	fmt.Fprintf(bw, "# Open ports on %s\n\n", cell(a.Host))
	fmt.Fprintf(bw, "Generated %s by portwarden.", snap.Time.UTC().Format("2006-01-02 15:04 MST"))
	if a.Baseline.Exists {
		fmt.Fprintf(bw, " Baseline: `%s` (%s).", a.Baseline.Path, safetext.Count(len(a.Baseline.Entries), "entry", "entries"))
	} else {
		fmt.Fprintf(bw, " No baseline at `%s`: every listener is undocumented.", a.Baseline.Path)
	}
	fmt.Fprintf(bw, "\n\n%d listeners, %d not in the baseline; %d external connections.\n",
		sum.ListenerCount(), sum.Unexpected, sum.External[verdict.DirectionInbound]+sum.External[verdict.DirectionOutbound])
	if !snap.Complete {
		fmt.Fprintf(bw, "\n> Some owners could not be read: %s\n", cell(strings.Join(snap.Warnings, "; ")))
	}
	fmt.Fprint(bw, "\n## Listeners\n\n| Port | Protocol | Bind | Reach | Service | Process | Unit | Reason | Owner | Added | Risk |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i := range a.Judged {
		s, v := a.Judged[i].Socket, a.Judged[i].Verdict
		if !s.Listening() {
			continue
		}
		reason, owner, added := "**not in baseline**", "-", "-"
		if e := v.Baseline; e != nil {
			reason, owner, added = cell(e.Reason), cell(e.Owner), e.Added.Format("2006-01-02")
		}
		proto := s.Proto.String()
		if s.IPVersion() == 6 {
			proto += "6"
		}
		reach := string(v.Reach())
		if d := v.Firewall; d != nil && d.RuleRef() != "" {
			reach += " (" + cell(d.RuleRef()) + ")"
		}
		fmt.Fprintf(bw, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s.Local.Port(), proto, bind(s), orDash(reach), cell(v.Service), cell(processCell(s)), cell(units(s, a.Unit)),
			reason, owner, added, v.Risk)
	}
	var idle []baseline.Entry
	for _, e := range a.Baseline.Entries {
		used := false
		for i := range snap.Sockets {
			if snap.Sockets[i].Listening() && e.Covers(&snap.Sockets[i], verdict.Where(a.Containers, &snap.Sockets[i])) {
				used = true
				break
			}
		}
		if !used {
			idle = append(idle, e)
		}
	}
	if len(idle) > 0 {
		fmt.Fprint(bw, "\n## Documented but not listening\n\n| Entry | Reason | Owner | Added |\n|---|---|---|---|\n")
		for _, e := range idle {
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", cell(e.Key()), cell(e.Reason), cell(e.Owner), e.Added.Format("2006-01-02"))
		}
	}
	return bw.Flush()
}

func bind(s *sockets.Socket) string {
	a := s.Local.Addr()
	if a.Is4In6() {
		return a.Unmap().String()
	}
	return a.String()
}

func processCell(s *sockets.Socket) string {
	if len(s.Processes) == 0 {
		return "-"
	}
	var parts []string
	for _, p := range s.Processes {
		parts = append(parts, p.Name+" ("+strconv.Itoa(p.PID)+", "+p.User+")")
	}
	return strings.Join(parts, ", ")
}

func units(s *sockets.Socket, unit func(*sockets.Process) string) string {
	if unit == nil {
		return ""
	}
	var list []string
	for _, p := range s.Processes {
		list = appendUnique(list, unit(p))
	}
	return strings.Join(slicesCompact(list), ", ")
}

func slicesCompact(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// cell makes text safe inside a Markdown table cell: control characters
// escaped, pipes and newlines neutralised.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	s = safetext.Visible(s)
	return strings.NewReplacer("|", `\|`, "`", "'").Replace(s)
}
