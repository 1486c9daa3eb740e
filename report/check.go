package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// WriteCheck writes what makes `portwarden check` fail, one socket a line
// with its reasons, or a one-line all-clear.
func WriteCheck(w io.Writer, judged []verdict.Judged, pl Portless, p verdict.Policy) error {
	bw := bufio.NewWriter(w)
	sum := verdict.Summarize(judged, p)
	pl.summarize(&sum, p)
	if sum.OK() {
		listeners := safetext.Count(sum.ListenerCount(), "listener", "listeners")
		if below := sum.Unexpected - sum.FailingListeners; below > 0 {
			fmt.Fprintf(bw, "ok: %s, %d unexpected but below %s risk (--fail-on) or unreachable from outside; no unusual external connections\n", listeners, below, p.FailOn)
		} else {
			fmt.Fprintf(bw, "ok: %s, all expected; no unusual external connections\n", listeners)
		}
		writeUnevaluated(bw, sum)
		return bw.Flush()
	}
	section := func(title string, n int, pick func(v *verdict.Verdict) bool) {
		if n == 0 {
			return
		}
		fmt.Fprintf(bw, "%s (%d):\n", title, n)
		for i := range judged {
			if v := judged[i].Verdict; pick(v) {
				fmt.Fprintf(bw, "  %s — %s: %s\n", describe(judged[i].Socket, v), v.Risk, safetext.Visible(strings.Join(v.Reasons, "; ")))
			}
		}
	}
	section("signs of a rogue process", sum.Signed, p.FailsSigned)
	writeRawFailing(bw, pl.Raw, p, sum.RawSigned)
	writeProgramsFailing(bw, pl.Programs, p, sum.FailingPrograms)
	section("unexpected listeners", sum.FailingListeners, p.FailsListener)
	section("unusual external connections", sum.RiskyExternal, p.FailsExternal)
	writeUnevaluated(bw, sum)
	return bw.Flush()
}

// writeUnevaluated says when the firewall could not be evaluated for some
// listeners: they were judged by their bind address alone.
func writeUnevaluated(w io.Writer, sum verdict.Summary) {
	if n := sum.ByReach[firewall.ReachUnknown]; n > 0 {
		fmt.Fprintf(w, "note: the firewall could not be evaluated for %s (%s); judged by bind address alone\n",
			safetext.Count(n, "listener", "listeners"), safetext.Visible(sum.Unevaluated))
	}
}

// describe renders a socket as "tcp 0.0.0.0:23 telnet (inetd pid 812)".
func describe(s *sockets.Socket, v *verdict.Verdict) string {
	var b strings.Builder
	b.WriteString(s.Proto.String())
	b.WriteByte(' ')
	b.WriteString(s.Local.String())
	if !s.Listening() {
		arrow := " → "
		if v.Direction == verdict.DirectionInbound {
			arrow = " ← "
		}
		b.WriteString(arrow + s.Remote.String())
	}
	if v.Service != "" {
		b.WriteString(" " + v.Service)
	}
	b.WriteString(" (" + owners(s) + ")")
	return b.String()
}

func owners(s *sockets.Socket) string {
	if len(s.Processes) == 0 {
		return "owner unknown"
	}
	var parts []string
	for _, p := range s.Processes {
		parts = append(parts, safetext.Visible(p.Name)+" pid "+strconv.Itoa(p.PID))
	}
	return strings.Join(parts, ", ")
}

// Check is the document `portwarden check --json` prints.
type Check struct {
	Time          string   `json:"time"`
	Host          string   `json:"host"`
	OK            bool     `json:"ok"`
	Complete      bool     `json:"complete"`
	Listeners     int      `json:"listeners"`
	Baseline      Baseline `json:"baseline"`
	Policy        Policy   `json:"policy"`
	Unexpected    []Socket `json:"unexpected"`
	RiskyExternal []Socket `json:"risky_external"`
	// Signed are the sockets whose processes show signs of a rogue
	// process that fail the check (processes[].signs says which).
	Signed []Socket `json:"signed"`
	// RawSigned are the packet and raw sockets whose holders show signs
	// that fail the check.
	RawSigned []RawSocket `json:"raw_signed"`
	// UnexpectedPrograms are the eBPF programs on interfaces no known
	// tool put there.
	UnexpectedPrograms []NetworkProgram `json:"unexpected_programs"`
	// ReachUnknown counts listeners whose firewall could not be evaluated.
	ReachUnknown int `json:"reach_unknown"`
	// BetweenChecks is what came and went since the last check and
	// fails: null where no flight recorder's record was judged.
	BetweenChecks *BetweenChecks `json:"between_checks"`
}

// Policy is what made the check fail, in JSON.
type Policy struct {
	FailOn         string `json:"fail_on"`          // least risk of an unexpected listener that fails
	FailOnExternal string `json:"fail_on_external"` // least risk of an outbound service that fails
	FailOnSign     string `json:"fail_on_sign"`     // least risk of a sign of a rogue process that fails
	// FailUnreachable: unexpected listeners nothing outside can reach fail too.
	FailUnreachable bool `json:"fail_unreachable"`
}

// Baseline says which baseline a check judged against.
type Baseline struct {
	Path    string `json:"path"`
	Exists  bool   `json:"exists"` // false: every listener is unexpected
	Entries int    `json:"entries"`
}

// WriteCheckJSON writes the check's result as one Check document, with
// past (nil: no record judged) as its between_checks.
func WriteCheckJSON(w io.Writer, host string, snap *sockets.Snapshot, containers *container.Index, base *baseline.Baseline, judged []verdict.Judged, pl Portless, p verdict.Policy, past *PastCheck) error {
	sum := verdict.Summarize(judged, p)
	pl.summarize(&sum, p)
	ok := sum.OK() && past.Count() == 0
	doc := Check{Time: snap.Time.Format(time.RFC3339), Host: host, OK: ok, Complete: snap.Complete, BetweenChecks: betweenChecks(past),
		Listeners: sum.ListenerCount(), Baseline: Baseline{Path: base.Path, Exists: base.Exists, Entries: len(base.Entries)},
		Policy:     Policy{FailOn: p.FailOn.String(), FailOnExternal: p.FailOnExternal.String(), FailOnSign: p.FailOnSign.String(), FailUnreachable: p.FailUnreachable},
		Unexpected: []Socket{}, RiskyExternal: []Socket{}, Signed: []Socket{}, ReachUnknown: sum.ByReach[firewall.ReachUnknown],
		RawSigned: rawJSON(snap, pl.Raw, containers, p.FailsSigned), UnexpectedPrograms: programsJSON(snap, pl.Programs, p.FailsProgram)}
	for i := range judged {
		if v := judged[i].Verdict; p.FailsSigned(v) {
			doc.Signed = append(doc.Signed, SocketOf(&judged[i], snap.Namespace(judged[i].Socket.NetNS), containers))
		}
		if v := judged[i].Verdict; p.FailsListener(v) {
			doc.Unexpected = append(doc.Unexpected, SocketOf(&judged[i], snap.Namespace(judged[i].Socket.NetNS), containers))
		} else if p.FailsExternal(v) {
			doc.RiskyExternal = append(doc.RiskyExternal, SocketOf(&judged[i], snap.Namespace(judged[i].Socket.NetNS), containers))
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := w.Write(escapeC1(buf.Bytes()))
	return err
}

// Prometheus renders node_exporter textfile-collector metrics.
func Prometheus(snap *sockets.Snapshot, judged []verdict.Judged, pl Portless, p verdict.Policy) []byte {
	sum := verdict.Summarize(judged, p)
	pl.summarize(&sum, p)
	raw := pl.Raw
	var b strings.Builder
	gauge(&b, "portwarden_listeners", "Listening sockets (TCP listeners, unconnected UDP) by protocol.")
	for _, p := range []sockets.Proto{sockets.TCP, sockets.UDP} {
		fmt.Fprintf(&b, "portwarden_listeners{proto=%q} %d\n", p, sum.Listeners[p])
	}
	gauge(&b, "portwarden_unexpected_listeners", "Listeners not covered by the baseline, by risk.")
	for r, n := range sum.UnexpectedBy {
		fmt.Fprintf(&b, "portwarden_unexpected_listeners{risk=%q} %d\n", riskName(r), n)
	}
	gauge(&b, "portwarden_external_connections", "Connections with an external peer, by direction.")
	for _, d := range []verdict.Direction{verdict.DirectionInbound, verdict.DirectionOutbound} {
		fmt.Fprintf(&b, "portwarden_external_connections{direction=%q} %d\n", d, sum.External[d])
	}
	gauge(&b, "portwarden_risky_external_connections", "Unusual external connections, which fail the check: inbound to an unexpected listener, or outbound to a high-risk service.")
	fmt.Fprintf(&b, "portwarden_risky_external_connections %d\n", sum.RiskyExternal)
	gauge(&b, "portwarden_sockets", "Sockets by risk.")
	for r, n := range sum.SocketsBy {
		fmt.Fprintf(&b, "portwarden_sockets{risk=%q} %d\n", riskName(r), n)
	}
	gauge(&b, "portwarden_listeners_by_reach", "Listeners by the widest class of sources the firewall lets connect: public, internal, host, none, unknown.")
	for _, r := range []firewall.Reach{firewall.ReachPublic, firewall.ReachInternal, firewall.ReachHost, firewall.ReachNone, firewall.ReachUnknown} {
		fmt.Fprintf(&b, "portwarden_listeners_by_reach{reach=%q} %d\n", r, sum.ByReach[r])
	}
	gauge(&b, "portwarden_processes_with_signs", "Processes holding sockets that show a sign of a rogue process, by sign.")
	bySign := map[signs.Code]map[int]bool{}
	for i := range judged {
		for k, found := range judged[i].Verdict.Signs {
			for _, sg := range found {
				if bySign[sg.Code] == nil {
					bySign[sg.Code] = map[int]bool{}
				}
				bySign[sg.Code][judged[i].Socket.Processes[k].PID] = true
			}
		}
	}
	for i := range raw {
		for k, found := range raw[i].Verdict.Signs {
			for _, sg := range found {
				if bySign[sg.Code] == nil {
					bySign[sg.Code] = map[int]bool{}
				}
				bySign[sg.Code][raw[i].Socket.Processes[k].PID] = true
			}
		}
	}
	for _, c := range signs.Codes() {
		fmt.Fprintf(&b, "portwarden_processes_with_signs{sign=%q} %d\n", c, len(bySign[c]))
	}
	gauge(&b, "portwarden_raw_sockets", "Sockets that receive without a port, by kind: packet (AF_PACKET) and raw IP sockets.")
	for _, k := range []sockets.RawKind{sockets.PacketSocket, sockets.IPSocket} {
		fmt.Fprintf(&b, "portwarden_raw_sockets{kind=%q} %d\n", k, sum.Raw[k])
	}
	gauge(&b, "portwarden_network_programs", "eBPF programs attached to network interfaces (XDP, tcx), by whether a known tool put them there.")
	fmt.Fprintf(&b, "portwarden_network_programs{known=\"true\"} %d\n", sum.Programs-sum.FailingPrograms)
	fmt.Fprintf(&b, "portwarden_network_programs{known=\"false\"} %d\n", sum.FailingPrograms)
	gauge(&b, "portwarden_check_ok", "1 when the check passes: no unexpected listener, no unusual external connection, no sign of a rogue process (on a packet or raw socket's holder too).")
	fmt.Fprintf(&b, "portwarden_check_ok %d\n", boolInt(sum.OK()))
	gauge(&b, "portwarden_snapshot_complete", "1 when every socket's owner could be read.")
	fmt.Fprintf(&b, "portwarden_snapshot_complete %d\n", boolInt(snap.Complete))
	gauge(&b, "portwarden_last_check_timestamp_seconds", "When the check ran, in Unix seconds.")
	fmt.Fprintf(&b, "portwarden_last_check_timestamp_seconds %d\n", snap.Time.Unix())
	return []byte(b.String())
}

func riskName(r int) string { return catalog.Risk(r).String() }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
