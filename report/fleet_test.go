package report

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

func TestFleetMetricsBoundAndEscape(t *testing.T) {
	var judged []verdict.Judged
	for i := range MaxListenerSeries + 50 {
		s := &sockets.Socket{Proto: sockets.TCP, State: sockets.Listen,
			Local:     netip.AddrPortFrom(netip.MustParseAddr("0.0.0.0"), uint16(10000+i)),
			Processes: []*sockets.Process{{PID: 100 + i, Name: "w\"x\\y\n\x1b[2J"}}}
		v := &verdict.Verdict{Unexpected: i == MaxListenerSeries+49} // the last one is the one that matters
		judged = append(judged, verdict.Judged{Socket: s, Verdict: v})
	}
	out := string(FleetMetrics(judged, func(*sockets.Process) string { return "web.service" }))
	if n := strings.Count(out, "\nportwarden_listener_info{"); n != MaxListenerSeries {
		t.Errorf("%d listener series, want the bound %d", n, MaxListenerSeries)
	}
	if !strings.Contains(out, "portwarden_listener_info_dropped 50\n") {
		t.Error("the dropped series are not counted")
	}
	if !strings.Contains(out, fmt.Sprintf(`port="%d"`, 10000+MaxListenerSeries+49)) {
		t.Error("the unexpected listener was dropped: the most severe must be kept")
	}
	if strings.Contains(out, "\x1b") || strings.Contains(out, "y\n") {
		t.Errorf("a control character reached the text format: %q", out)
	}
	if !strings.Contains(out, `process="w\"x\\y\\x0a\\x1b[2J"`) {
		t.Errorf("the hostile name is not escaped as expected:\n%s", out[:min(len(out), 600)])
	}
	if !strings.Contains(out, `portwarden_listeners_by_verdict{verdict="unexpected"} 1`) {
		t.Error("listeners by verdict")
	}
}
