package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// MaxListenerSeries bounds the portwarden_listener_info series one host
// writes: past it, the least severe listeners are left out (unexpected
// ones first kept) and portwarden_listener_info_dropped says how many.
const MaxListenerSeries = 200

// MaxPeerSeries bounds portwarden_external_peer_connections: the peers
// with the most connections, per host.
const MaxPeerSeries = 20

// FleetMetrics are the series for questions across hosts: a series per
// listener with what it is and how it was judged, listeners by verdict,
// and external connections by direction and service. unit names a
// process's systemd unit ("" where none).
func FleetMetrics(judged []verdict.Judged, unit func(*sockets.Process) string) []byte {
	var b strings.Builder
	type listener struct {
		labels   string
		severity int
	}
	var listeners []listener
	seen := map[string]bool{}
	byVerdict := map[string]int{"expected": 0, "unexpected": 0}
	type svcKey struct{ direction, service string }
	external := map[svcKey]int{}
	type peerKey struct{ direction, peer string }
	peers := map[peerKey]int{}
	for i := range judged {
		s, v := judged[i].Socket, judged[i].Verdict
		if v.External {
			svc := v.Service
			if svc == "" {
				svc = "other"
			}
			external[svcKey{string(v.Direction), svc}]++
			peers[peerKey{string(v.Direction), s.Remote.Addr().Unmap().String()}]++
		}
		if !s.Listening() {
			continue
		}
		word := "expected"
		if v.Unexpected {
			word = "unexpected"
		}
		byVerdict[word]++
		var process, unitName string
		if len(s.Processes) > 0 {
			process, unitName = s.Processes[0].Name, unit(s.Processes[0])
		}
		ctr := ""
		if v.Contained != nil {
			ctr = v.Contained.Container
		}
		reach := string(v.Reach())
		if reach == "" {
			reach = "unevaluated"
		}
		labels := labelSet("proto", s.Proto.String(), "port", strconv.Itoa(int(s.Local.Port())), "bind", s.Local.Addr().Unmap().String(),
			"process", process, "unit", unitName, "container", ctr, "reach", reach, "verdict", word, "risk", v.Risk.String())
		if !seen[labels] {
			seen[labels] = true
			listeners = append(listeners, listener{labels, v.Severity()})
		}
	}
	slices.SortStableFunc(listeners, func(a, b listener) int {
		return cmp.Or(cmp.Compare(b.severity, a.severity), strings.Compare(a.labels, b.labels))
	})
	dropped := max(len(listeners)-MaxListenerSeries, 0)
	listeners = listeners[:len(listeners)-dropped]
	gauge(&b, "portwarden_listener_info", fmt.Sprintf("A listener: what it is, who holds it, who can reach it, and its verdict (1). At most %d a host, the most severe first.", MaxListenerSeries))
	for _, l := range listeners {
		fmt.Fprintf(&b, "portwarden_listener_info{%s} 1\n", l.labels)
	}
	gauge(&b, "portwarden_listener_info_dropped", "Listeners left out of portwarden_listener_info past its bound; counted in the other series.")
	fmt.Fprintf(&b, "portwarden_listener_info_dropped %d\n", dropped)
	gauge(&b, "portwarden_listeners_by_verdict", "Listeners by verdict: expected (in the baseline) or unexpected.")
	for _, w := range []string{"expected", "unexpected"} {
		fmt.Fprintf(&b, "portwarden_listeners_by_verdict{verdict=%q} %d\n", w, byVerdict[w])
	}
	gauge(&b, "portwarden_external_connections_by_service", "Connections with an external peer, by direction and by the service (as the catalog names the port) they use; other when unnamed.")
	keys := make([]svcKey, 0, len(external))
	for k := range external {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b svcKey) int {
		return cmp.Or(strings.Compare(a.direction, b.direction), strings.Compare(a.service, b.service))
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "portwarden_external_connections_by_service{%s} %d\n", labelSet("direction", k.direction, "service", k.service), external[k])
	}
	gauge(&b, "portwarden_external_peer_connections", fmt.Sprintf("Connections with an external peer, by direction and peer address: the %d peers with the most.", MaxPeerSeries))
	top := make([]peerKey, 0, len(peers))
	for k := range peers {
		top = append(top, k)
	}
	slices.SortFunc(top, func(a, b peerKey) int {
		return cmp.Or(cmp.Compare(peers[b], peers[a]), strings.Compare(a.direction, b.direction), strings.Compare(a.peer, b.peer))
	})
	for _, k := range top[:min(len(top), MaxPeerSeries)] {
		fmt.Fprintf(&b, "portwarden_external_peer_connections{%s} %d\n", labelSet("direction", k.direction, "peer", k.peer), peers[k])
	}
	return []byte(b.String())
}

// RunMetrics say how the check itself went: how long it took, and that it
// judged everything (1) or hit an error reading something it judges (0).
func RunMetrics(took time.Duration, success bool) []byte {
	var b strings.Builder
	gauge(&b, "portwarden_check_duration_seconds", "How long the check took.")
	fmt.Fprintf(&b, "portwarden_check_duration_seconds %.3f\n", took.Seconds())
	gauge(&b, "portwarden_check_success", "1 when the check could judge everything it reads; 0 when something failed (the flight recorder's record).")
	fmt.Fprintf(&b, "portwarden_check_success %d\n", boolInt(success))
	return []byte(b.String())
}

// RecorderMetrics describe the flight recorder from its record.
func RecorderMetrics(s history.Stats) []byte {
	var b strings.Builder
	counter := func(name, help string) { fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name) }
	counter("portwarden_recorder_events_total", "Kernel events and poll changes the flight recorder recorded, over every run.")
	fmt.Fprintf(&b, "portwarden_recorder_events_total %d\n", s.Events)
	counter("portwarden_recorder_lost_events_total", "Events the kernel's ring buffer dropped before the recorder read them, over every run.")
	fmt.Fprintf(&b, "portwarden_recorder_lost_events_total %d\n", s.Lost)
	counter("portwarden_recorder_gaps_total", "Times no flight recorder ran (killed, stopped, not started yet), over the record.")
	fmt.Fprintf(&b, "portwarden_recorder_gaps_total %d\n", len(s.Gaps))
	counter("portwarden_recorder_gap_seconds_total", "How long no flight recorder ran, in all, over the record.")
	fmt.Fprintf(&b, "portwarden_recorder_gap_seconds_total %.3f\n", s.GapTime().Seconds())
	counter("portwarden_recorder_dropped_lifetimes_total", "Lifetimes the flight recorder gave up to go on recording on a full disk (the oldest), over every run.")
	fmt.Fprintf(&b, "portwarden_recorder_dropped_lifetimes_total %d\n", s.Dropped)
	counter("portwarden_recorder_unnamed_probes_total", "Probes of closed ports counted without their sources where the probe program could not load (udp: datagrams; tcp: resets sent, an upper bound).")
	fmt.Fprintf(&b, "portwarden_recorder_unnamed_probes_total{proto=\"udp\"} %d\nportwarden_recorder_unnamed_probes_total{proto=\"tcp\"} %d\n", s.UnnamedUDP, s.UnnamedResets)
	gauge(&b, "portwarden_recorder_scans_traced", "1 when the flight recorder traces each probe of a closed port with its source, 0 when it only counts them or cannot.")
	fmt.Fprintf(&b, "portwarden_recorder_scans_traced %d\n", boolInt(s.Scans == history.EBPF))
	gauge(&b, "portwarden_recorder_last_commit_timestamp_seconds", "When the flight recorder last committed, in Unix seconds.")
	fmt.Fprintf(&b, "portwarden_recorder_last_commit_timestamp_seconds %d\n", s.LastCommit.Unix())
	gauge(&b, "portwarden_recorder_polling", "1 when the recorder polls (connections shorter than its interval may be missing), 0 when it reads the kernel's events.")
	fmt.Fprintf(&b, "portwarden_recorder_polling %d\n", boolInt(s.Source == history.Poll))
	gauge(&b, "portwarden_recorder_bytes", "The size of the record on disk.")
	fmt.Fprintf(&b, "portwarden_recorder_bytes %d\n", s.Bytes)
	return []byte(b.String())
}

func gauge(b *strings.Builder, name, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
}

// labelSet renders name="value" pairs, escaped as the text format wants:
// backslash, double quote and newline; any other control character (a
// process name is whatever its starter chose) shown as safetext shows it.
func labelSet(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(safetext.Visible(pairs[i+1]))
		b.WriteString(pairs[i] + `="` + v + `"`)
	}
	return b.String()
}
