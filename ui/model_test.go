package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/sockets"
)

func selectedLocal(m *Model) string {
	s, _ := m.selectedSocket()
	if s == nil {
		return ""
	}
	return s.Local.String()
}

func TestFirstFrameShowsListenersSorted(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	rows := rowsOf(m)
	if len(rows) != 4 {
		t.Fatalf("listeners view has %d rows, want 4:\n%s", len(rows), screen(m))
	}
	// Sorted by local port: 22, 23, 6379, 31337; nothing marked new.
	for i, want := range []string{":22", ":23", ":6379", ":31337"} {
		if !strings.Contains(rows[i], want) || strings.HasPrefix(rows[i], "+") {
			t.Errorf("row %d = %q, want port %s unmarked", i, rows[i], want)
		}
	}
}

func TestCursorAndOrderSurviveRefresh(t *testing.T) {
	socks := fixtureSockets()
	m, b := newTestModel(t, 120, 40, frameOf(socks))
	m = press(t, m, "down", "down") // on redis, 127.0.0.1:6379
	if got := selectedLocal(m); got != "127.0.0.1:6379" {
		t.Fatalf("cursor on %q", got)
	}
	before := slices.Clone(m.table().visible)

	// Next frame: telnet (above the cursor) vanished, a new listener on
	// port 25 appeared above it too, and sshd's listener changed nothing.
	next := slices.DeleteFunc(slices.Clone(socks), func(s sockets.Socket) bool { return s.Local.Port() == 23 && s.Listening() })
	next = append(next, sock(sockets.TCP, sockets.Listen, "0.0.0.0:25", "0.0.0.0:0", 20, pInetd))
	b.frames = append(b.frames, frameOf(next))
	m = press(t, m, "r")

	if got := selectedLocal(m); got != "127.0.0.1:6379" {
		t.Errorf("after refresh the cursor is on %q, want it to stay on 127.0.0.1:6379", got)
	}
	rows := rowsOf(m)
	wantOrder := []string{"[::]:22", "0.0.0.0:23", "0.0.0.0:25", "127.0.0.1:6379", "0.0.0.0:31337"}
	if len(rows) != len(wantOrder) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(wantOrder), strings.Join(rows, "\n"))
	}
	for i, want := range wantOrder {
		if !strings.Contains(rows[i], want) {
			t.Errorf("row %d = %q, want %s", i, rows[i], want)
		}
	}
	if !strings.HasPrefix(rows[1], "-") || !strings.HasPrefix(rows[2], "+") {
		t.Errorf("telnet should be marked gone (-) and port 25 new (+):\n%s", strings.Join(rows, "\n"))
	}
	// Unchanged rows are the same objects: nothing to redraw.
	for _, r := range before {
		if !slices.Contains(m.table().visible, r) {
			t.Errorf("row %v was rebuilt or lost on refresh", r.key.id)
		}
	}

	// One refresh later the new row is steady; once GoneAfter has passed,
	// the gone row leaves.
	m.cfg.Now = func() time.Time { return testNow.Add(10 * time.Second) }
	m = press(t, m, "r")
	rows = rowsOf(m)
	if len(rows) != 4 || strings.Contains(strings.Join(rows, "\n"), ":23 ") || strings.HasPrefix(rows[1], "+") {
		t.Errorf("after GoneAfter:\n%s", strings.Join(rows, "\n"))
	}
	if got := selectedLocal(m); got != "127.0.0.1:6379" {
		t.Errorf("cursor moved to %q", got)
	}
}

func TestFilterNarrowsAndEscClears(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	m = press(t, m, "3") // all sockets
	all := len(m.table().visible)
	m = press(t, m, "/", "r", "e", "d", "i", "s")
	if got := len(m.table().visible); got != 3 {
		t.Errorf("filter redis: %d rows, want 3 (listener, server end, client's peer):\n%s", got, screen(m))
	}
	if !strings.Contains(screen(m), "/redis") {
		t.Error("the filter being typed is not shown")
	}
	m = press(t, m, "space", "4", "0", "0", "0", "0") // words are ANDed
	if got := len(m.table().visible); got != 2 {
		t.Errorf("filter 'redis 40000': %d rows, want 2", got)
	}
	m = press(t, m, "enter")
	if m.mode != modeNormal || !strings.Contains(screen(m), "filter: redis 40000") {
		t.Errorf("enter should keep the filter and leave typing mode:\n%s", screen(m))
	}
	m = press(t, m, "esc")
	if got := len(m.table().visible); got != all {
		t.Errorf("esc left %d of %d rows", got, all)
	}
	m = press(t, m, "/", "a", "l", "i", "c", "e", "esc")
	if got := len(m.table().visible); got != all || m.mode != modeNormal {
		t.Errorf("esc while typing: %d rows, mode %d", got, m.mode)
	}
	m = press(t, m, "/", "n", "o", "t", "h", "i", "n", "g", "h", "e", "r", "e")
	if !strings.Contains(screen(m), "no rows match") {
		t.Errorf("empty filter result not explained:\n%s", screen(m))
	}
}

func TestSortAndReverse(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	// Columns after LOCAL: REMOTE, STATE, PID.
	m = press(t, m, "s", "s", "s")
	if c := m.table().columns[m.table().sortCol].title; c != "PID" {
		t.Fatalf("sorting by %q, want PID", c)
	}
	pids := func() []int {
		var out []int
		for _, r := range m.table().visible {
			out = append(out, r.sortKeys.pid)
		}
		return out
	}
	if got := pids(); !slices.IsSorted(got) {
		t.Errorf("by PID: %v", got)
	}
	m = press(t, m, "S")
	got := pids()
	if !slices.IsSortedFunc(got, func(a, b int) int { return b - a }) {
		t.Errorf("reversed by PID: %v", got)
	}
	if !strings.Contains(screen(m), "PID↓") {
		t.Error("the sort column and direction are not marked")
	}
}

func TestViewsAndHighlights(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	s := screen(m)
	for _, want := range []string{"0.0.0.0:23 *", "UNEXPECTED crit", "expected", "3 unexpected", "3 external", "[1 Listeners]"} {
		if !strings.Contains(s, want) {
			t.Errorf("listeners view lacks %q:\n%s", want, s)
		}
	}
	m = press(t, m, "tab")
	if rows := rowsOf(m); len(rows) != 5 || !strings.Contains(screen(m), "[2 Connections]") || !strings.Contains(screen(m), "EXTERNAL") {
		t.Errorf("connections view:\n%s", screen(m))
	}
	m = press(t, m, "tab")
	if rows := rowsOf(m); len(rows) != 9 {
		t.Errorf("all view has %d rows, want 9", len(rows))
	}
	m = press(t, m, "tab")
	rows := rowsOf(m)
	if len(rows) != 7 || !strings.Contains(screen(m), "[4 Processes]") { // 5 with sockets, 2 with packet sockets
		t.Fatalf("by-process view:\n%s", screen(m))
	}
	if !strings.Contains(strings.Join(rows, "\n"), "packet/eth0:all") {
		t.Errorf("a packet socket's holder does not list it:\n%s", strings.Join(rows, "\n"))
	}
	if !strings.Contains(strings.Join(rows, "\n"), "tcp/22 tcp/6379") && !strings.Contains(strings.Join(rows, "\n"), "tcp/22") {
		t.Errorf("process rows do not fold listening ports:\n%s", strings.Join(rows, "\n"))
	}
	m = press(t, m, "1")
	if !strings.Contains(screen(m), "[1 Listeners]") {
		t.Error("number keys do not switch views")
	}
}

func TestDetailExplainsAndFetchesOrigin(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	m = press(t, m, "down", "enter") // telnet
	s := screen(m)
	for _, want := range []string{"Telnet remote login", "Bound to 0.0.0.0", "every IPv4 interface", "well-known port",
		"not in baseline", "portwarden baseline add", "Process inetd (pid 640)", "/usr/sbin/inetd -i", "more lines (ctrl+d"} {
		if !strings.Contains(s, want) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
	m = press(t, m, "ctrl+d")
	s = screen(m)
	for _, want := range []string{"init (1)", "systemd unit inetd.service", "3h ago"} {
		if !strings.Contains(s, want) {
			t.Errorf("scrolled detail lacks %q:\n%s", want, s)
		}
	}
	m = press(t, m, "ctrl+u")
	if !strings.Contains(screen(m), "Telnet remote login") {
		t.Error("ctrl+u does not scroll back")
	}
	m = press(t, m, "ctrl+d", "up") // sshd, expected: its details start at the top
	if m.detail.scroll != 0 {
		t.Error("moving to another row keeps the old row's scroll")
	}
	if s := screen(m); !strings.Contains(s, `expected: "admin SSH", owner ops`) || !strings.Contains(s, "IPv6 and IPv4 alike") {
		t.Errorf("detail of the baselined [::] listener:\n%s", s)
	}
	m = press(t, m, "enter")
	if strings.Contains(screen(m), "Telnet remote login") || m.detailOpen {
		t.Error("enter does not close the detail pane")
	}
}

func TestHostileTextIsShownNotObeyed(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	m = press(t, m, "G", "enter")
	raw := m.View().Content
	for _, bad := range []string{"\x1b[2J", "\x1b]0;", "\x07"} {
		if strings.Contains(raw, bad) {
			t.Errorf("hostile sequence %q reached the terminal", bad)
		}
	}
	if !strings.Contains(screen(m), `x\x1b[2Jevil`) {
		t.Errorf("escaped name not shown:\n%s", screen(m))
	}
}

func TestPauseAndRefresh(t *testing.T) {
	m, b := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	m = press(t, m, "p")
	if !strings.Contains(screen(m), "PAUSED") {
		t.Error("pause not shown")
	}
	if _, cmd := m.Update(tickMsg{}); cmd != nil {
		t.Error("a tick while paused still collects")
	}
	calls := b.next
	m = press(t, m, "p")
	if b.next != calls+1 || strings.Contains(screen(m), "PAUSED") {
		t.Errorf("unpausing should refresh at once (%d → %d collections)", calls, b.next)
	}
	if slices.Contains(b.calls, "inspect fresh") {
		t.Error("a plain refresh asked to read everything again")
	}
	press(t, m, "r")
	if b.next != calls+2 {
		t.Error("r does not refresh")
	}
	if !slices.Contains(b.calls, "inspect fresh") {
		t.Error("r did not ask to read everything again (Query.Fresh)")
	}
}

func TestSmallAndResizedTerminals(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	for _, size := range [][2]int{{80, 24}, {60, 15}, {39, 10}, {120, 7}, {200, 60}} {
		m = update(t, m, tea_WindowSize(size[0], size[1]))
		lines := strings.Split(screen(m), "\n")
		if len(lines) > size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if w := len([]rune(l)); w > size[0] {
				t.Errorf("%dx%d: line of width %d: %q", size[0], size[1], w, l)
			}
		}
		small := size[0] < minWidth || size[1] < minHeight
		if small != strings.Contains(screen(m), "terminal too small") {
			t.Errorf("%dx%d: too-small message shown=%v", size[0], size[1], !small)
		}
		if !small && !strings.Contains(screen(m), "telnet") {
			t.Errorf("%dx%d: rows lost:\n%s", size[0], size[1], screen(m))
		}
	}
}

func TestHelpScreen(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	m = press(t, m, "?")
	s := screen(m)
	for _, want := range []string{"filter", "pause", "by process", "UNEXPECTED", "bound to every interface"} {
		if !strings.Contains(s, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	m = press(t, m, "x")
	if m.mode != modeNormal {
		t.Error("any key should leave help")
	}
	// ?, esc and q close help and do nothing else; q does not quit.
	for _, k := range []string{"?", "esc", "q"} {
		m = press(t, m, "?")
		next, cmd := m.Update(keyMsg(k))
		m = next.(*Model)
		if m.mode != modeNormal || cmd != nil {
			t.Errorf("%s in help: mode %v, command %v", k, m.mode, cmd)
		}
	}
	// Another key closes help and then does what it does: / filters, and
	// what is typed after goes to the filter, not to the sort.
	m = press(t, m, "?", "/", "s", "s", "h")
	if m.mode != modeFilter || m.filter.Value() != "ssh" {
		t.Errorf("/ in help: mode %v, filter %q", m.mode, m.filter.Value())
	}
}

func TestReturningToAViewShowsNoStaleRows(t *testing.T) {
	socks := fixtureSockets()
	m, b := newTestModel(t, 120, 40, frameOf(socks))
	m = press(t, m, "2") // connections; listeners stop following frames
	next := slices.DeleteFunc(slices.Clone(socks), func(s sockets.Socket) bool { return s.Local.Port() == 23 })
	b.frames = append(b.frames, frameOf(next), frameOf(next))
	m = press(t, m, "r", "r", "1") // listeners missed two frames
	rows := rowsOf(m)
	if len(rows) != 3 || strings.Contains(strings.Join(rows, "\n"), ":23 ") {
		t.Errorf("listeners after missing a frame:\n%s", strings.Join(rows, "\n"))
	}
	for _, r := range rows {
		if strings.HasPrefix(r, "-") || strings.HasPrefix(r, "+") {
			t.Errorf("stale mark on %q", r)
		}
	}
}

// TestOneRefreshChain checks that frames asked for out of turn (r, the
// proof after an action) do not start a second chain of ticks.
func TestOneRefreshChain(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	m.cfg.Interval = time.Millisecond
	ticks := func(cmd tea.Cmd) int {
		n := 0
		msgs := []tea.Msg{prompt(cmd)}
		if batch, ok := msgs[0].(tea.BatchMsg); ok {
			msgs = msgs[:0]
			for _, c := range batch {
				msgs = append(msgs, prompt(c))
			}
		}
		for _, msg := range msgs {
			if _, ok := msg.(tickMsg); ok {
				n++
			}
		}
		return n
	}
	next, cmd := m.Update(frameMsg{frame: frameOf(fixtureSockets())})
	if n := ticks(cmd); n != 0 {
		t.Fatalf("a frame while a tick is scheduled added %d ticks", n)
	}
	next, _ = next.(*Model).Update(tickMsg{})
	if _, cmd = next.(*Model).Update(frameMsg{frame: frameOf(fixtureSockets())}); ticks(cmd) != 1 {
		t.Fatal("the frame a tick asked for schedules no next tick")
	}
}

// TestDetailNamesTheSocketUnit checks a listener systemd holds itself:
// the detail asks which socket unit it is for and says what that means.
func TestDetailNamesTheSocketUnit(t *testing.T) {
	pSystemd := &sockets.Process{PID: 1, Name: "systemd", Exe: "/usr/lib/systemd/systemd", User: "root", StartTicks: 1}
	socks := []sockets.Socket{sock(sockets.TCP, sockets.Listen, "[::]:22", "[::]:0", 20, pSystemd)}
	m, _ := newTestModel(t, 120, 60, frameOf(socks))
	m = press(t, m, "enter")
	s := screen(m)
	if !strings.Contains(s, "Socket unit") || !strings.Contains(s, "fixture.socket: systemd listens here itself") {
		t.Errorf("detail of a socket-activated listener:\n%s", s)
	}
	if len(m.socketUnits) != 1 {
		t.Errorf("socket units asked about: %v", m.socketUnits)
	}
}

// TestWarningsPane: at 80 columns a long warning is not cut mid-word in
// the status line; w shows every warning whole, and esc closes it.
func TestWarningsPane(t *testing.T) {
	f := frameOf(fixtureSockets())
	long := "could not read the open files of 1 process (pid 1); their sockets show no owner"
	f.Snapshot.Complete, f.Snapshot.Warnings = false, []string{long, "3 processes exited while being read"}
	m, _ := newTestModel(t, 80, 24, f)
	lines := strings.Split(screen(m), "\n")
	if status := lines[len(lines)-2]; !strings.Contains(status, "2 warnings (w shows them)") || strings.Contains(status, "…") {
		t.Errorf("status line at 80 columns: %q", status)
	}
	m = press(t, m, "w")
	s := screen(m)
	if !strings.Contains(s, "Warnings") || !strings.Contains(strings.Join(strings.Fields(s), " "), long) || !strings.Contains(s, "3 processes exited") {
		t.Errorf("warnings pane:\n%s", s)
	}
	m = press(t, m, "esc")
	if m.warningsOpen || strings.Contains(screen(m), "Warnings") {
		t.Errorf("esc left the warnings pane open:\n%s", screen(m))
	}
}
