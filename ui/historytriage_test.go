package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/sockets"
)

// withScan is withRecent with a connect scan in the window: 2,000
// sub-millisecond connections from 198.51.100.66 to ports 1–2000, and two
// from 198.51.100.67 (too few to fold).
func withScan(t *testing.T) *app.Inspection {
	f := withRecent(t, frameOf(fixtureSockets()))
	r := f.Recent
	add := func(peer string, port int, at time.Time) {
		r.Lifetimes = append(r.Lifetimes, history.Lifetime{Kind: history.Connection, Proto: sockets.TCP, Direction: history.Inbound,
			ServicePort: uint16(port), Local: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.5"), uint16(port)),
			Remote: netip.AddrPortFrom(netip.MustParseAddr(peer), uint16(40000+port%20000)), FirstSeen: at, LastSeen: at.Add(200 * time.Microsecond),
			Source: history.EBPF})
	}
	start := testNow.Add(-20 * time.Minute)
	for port := 1; port <= 2000; port++ {
		add("198.51.100.66", port, start.Add(time.Duration(port)*time.Millisecond))
	}
	add("198.51.100.67", 80, start.Add(3*time.Second))
	add("198.51.100.67", 443, start.Add(4*time.Second))
	r.Judged = judgePast(t, f, r.Lifetimes)
	return f
}

// TestHistoryTriage: a connect scan folds into one row beside the real
// traffic; grouping by peer and by port sums the window up; enter on a
// group shows its lifetimes through a field filter; [ and ] move the
// window and the status line says which it is.
func TestHistoryTriage(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		m, _ := newTestModel(t, w, h, withScan(t))
		m = press(t, m, "6")
		golden(t, "history-folded-"+sizeName(w, h), screen(m))
		m = press(t, m, "v")
		golden(t, "history-by-peer-"+sizeName(w, h), screen(m))
		m = press(t, m, "v")
		golden(t, "history-by-port-"+sizeName(w, h), screen(m))
	}
	m, _ := newTestModel(t, 120, 40, withScan(t))
	m = press(t, m, "6")
	if n := len(m.table().rows); n != 3+2+1+1 {
		t.Errorf("%d rows, want the 3 recorded, the 2 unfolded attempts, 1 folded scan and the gap:\n%s", n, screen(m))
	}
	var folded int = -1
	for i, r := range m.table().visible {
		if strings.Contains(strings.Join(r.cells, " "), "2000") {
			folded = i
		}
	}
	if folded < 0 {
		t.Fatalf("no folded row of 2000 attempts:\n%s", screen(m))
	}
	m.table().moveTo(folded)
	m = press(t, m, "enter")
	if got := m.filter.Value(); got != "peer:198.51.100.66" {
		t.Errorf("enter on the fold set the filter %q, want peer:198.51.100.66", got)
	}
	if n := len(m.table().visible); n != 2000 {
		t.Errorf("the scan expanded to %d rows, want its 2000 lifetimes", n)
	}
	m = press(t, m, "esc")
	m.filter.SetValue("port:22")
	m.applyFilter()
	m.showFrame()
	// The SSH client, and the scan's probe of port 22 (unfolded: a field
	// filter shows every lifetime it picks) — not ports 220–229.
	if rows := rowsOf(m); len(rows) != 2 || !strings.Contains(strings.Join(rows, "\n"), "198.51.100.20:40112") ||
		!strings.Contains(strings.Join(rows, "\n"), "198.51.100.66:40022") {
		t.Errorf("port:22 shows %q, want the SSH client and the scan's probe of 22", rows)
	}
	m = press(t, m, "[")
	if s := screen(m); !strings.Contains(s, "window 10:00:00–11:00:00 (1h) ·") {
		t.Errorf("after [ the status line reads:\n%s", lastLines(s, 2))
	}
	m = press(t, m, "]", "-")
	if s := screen(m); !strings.Contains(s, "window 11:45:00–12:00:00 (15m, following)") {
		t.Errorf("after ] and - the status line reads:\n%s", lastLines(s, 2))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
