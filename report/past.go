package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/logins"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
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
	// Scans and FailedLogins are the scans and failed-login bursts since
	// then at or above check's thresholds (--fail-on-scan,
	// --fail-on-failed-logins): each fails.
	Scans        []history.Scan
	FailedLogins []logins.Failures
}

// Count is how many things failed between the checks.
func (pc *PastCheck) Count() int {
	if pc == nil {
		return 0
	}
	return len(pc.Failing) + len(pc.Scans) + len(pc.FailedLogins)
}

// WritePast lists the past lifetimes that fail, with when they lived.
func WritePast(w io.Writer, pc *PastCheck) error {
	if pc.Count() == 0 {
		return nil
	}
	past, judged := pc.Past, pc.Judged
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "between checks, since %s (%d):\n", pc.Since.UTC().Format(time.RFC3339), pc.Count())
	for _, s := range pc.Scans {
		fmt.Fprintf(bw, "  scan: %s probed %d closed ports (%s: %s) in %s, %s to %s\n", s.Peer, s.Ports, s.Kind, s.PortList,
			safetext.Visible(orDash(s.NetNSName)), s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339))
	}
	for _, f := range pc.FailedLogins {
		fmt.Fprintf(bw, "  failed logins: %s failed %d %s logins as %s, %s to %s\n", f.Peer, f.Count, f.Service,
			safetext.Visible(strings.Join(f.Users, ", ")), f.First.UTC().Format(time.RFC3339), f.Last.UTC().Format(time.RFC3339))
	}
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
	Since        string         `json:"since"`
	Failing      []PastSocket   `json:"failing"`
	Scans        []PeerScan     `json:"scans"`         // at or above --fail-on-scan
	FailedLogins []FailedLogins `json:"failed_logins"` // at or above --fail-on-failed-logins
}

// PeerScan is a scan that failed a check, with its scanner.
type PeerScan struct {
	Peer string `json:"peer"`
	ScanLine
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
	out := &BetweenChecks{Since: pc.Since.UTC().Format(time.RFC3339Nano), Failing: []PastSocket{}, Scans: []PeerScan{}, FailedLogins: []FailedLogins{}}
	for _, s := range pc.Scans {
		out.Scans = append(out.Scans, PeerScan{Peer: s.Peer.String(), ScanLine: scanLine(s)})
	}
	for _, f := range pc.FailedLogins {
		out.FailedLogins = append(out.FailedLogins, failedLogins(f))
	}
	for _, i := range pc.Failing {
		l := &pc.Past[i]
		// The namespace as the recorder saw it: the host's is not told
		// apart from others by the record, only named where it had a name.
		var ns *sockets.Namespace
		if l.Owner.NetNS != 0 {
			ns = &sockets.Namespace{Inode: l.Owner.NetNS, Name: l.Owner.NetNSName}
		}
		out.Failing = append(out.Failing, PastSocket{Socket: SocketOf(&pc.Judged[i], ns, nil),
			FirstSeen: l.FirstSeen.UTC().Format(time.RFC3339Nano), LastSeen: l.LastSeen.UTC().Format(time.RFC3339Nano)})
	}
	return out
}
