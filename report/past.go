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

// WritePast lists the past lifetimes that fail, with when they lived: what
// check found in the flight recorder's record since its last run.
func WritePast(w io.Writer, since time.Time, past []history.Lifetime, judged []verdict.Judged, failing []int) error {
	if len(failing) == 0 {
		return nil
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "between checks, since %s, from the flight recorder (%d):\n", since.UTC().Format(time.RFC3339), len(failing))
	for _, i := range failing {
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
