package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
)

// PastFailing returns the indexes of the past lifetimes (judged in the
// same order) that fail the policy: an unexpected listener, or an unusual
// external connection, that came and went between two checks.
func PastFailing(judged []verdict.Judged, p verdict.Policy) []int {
	var out []int
	for i := range judged {
		if v := judged[i].Verdict; p.FailsListener(v) || p.FailsExternal(v) {
			out = append(out, i)
		}
	}
	return out
}

// PastCheck is what check found in the flight recorder's record since its
// last run: the lifetimes that ended since then, judged in the same order,
// and the indexes of those that fail.
type PastCheck struct {
	Since   time.Time
	Past    []history.Lifetime
	Judged  []verdict.Judged
	Failing []int
}

// WritePast lists the past lifetimes that fail, with when they lived.
func WritePast(w io.Writer, pc *PastCheck) error {
	if pc == nil || len(pc.Failing) == 0 {
		return nil
	}
	past, judged := pc.Past, pc.Judged
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "between checks, since %s, from the flight recorder (%d):\n", pc.Since.UTC().Format(time.RFC3339), len(pc.Failing))
	for _, i := range pc.Failing {
		l, v := &past[i], judged[i].Verdict
		fmt.Fprintf(bw, "  %s — %s: %s; open %s to %s (%s)\n", describe(judged[i].Socket, v), v.Risk,
			safetext.Visible(strings.Join(v.Reasons, "; ")), l.FirstSeen.UTC().Format(time.RFC3339Nano),
			l.LastSeen.UTC().Format(time.RFC3339Nano), l.LastSeen.Sub(l.FirstSeen).Round(time.Millisecond))
	}
	return bw.Flush()
}

// PastMetrics is the textfile metric for what check found between runs.
func PastMetrics(failing int) []byte {
	var b strings.Builder
	gauge(&b, "portwarden_between_checks_failing", "Listeners and external connections that came and went since the last check and fail its policy.")
	fmt.Fprintf(&b, "portwarden_between_checks_failing %d\n", failing)
	return []byte(b.String())
}

// BetweenChecks is a PastCheck in JSON: the failures, each socket with
// when it lived.
type BetweenChecks struct {
	Since   string       `json:"since"`
	Failing []PastSocket `json:"failing"`
}

// PastSocket is a socket that came and went between two checks.
type PastSocket struct {
	Socket
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
}

// betweenChecks is pc in JSON; nil when no record was judged.
func betweenChecks(pc *PastCheck) *BetweenChecks {
	if pc == nil {
		return nil
	}
	out := &BetweenChecks{Since: pc.Since.UTC().Format(time.RFC3339Nano), Failing: []PastSocket{}}
	for _, i := range pc.Failing {
		l := &pc.Past[i]
		out.Failing = append(out.Failing, PastSocket{Socket: SocketOf(&pc.Judged[i], nil, nil),
			FirstSeen: l.FirstSeen.UTC().Format(time.RFC3339Nano), LastSeen: l.LastSeen.UTC().Format(time.RFC3339Nano)})
	}
	return out
}
