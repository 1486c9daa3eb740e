package ui

import (
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/portwarden/portwarden/safetext"
)

// FPS is how often, at most, the dashboard draws a frame: a key shows
// within 50 ms. The renderer wakes this often whether or not anything
// changed; at Bubble Tea's default of 60, those wake-ups alone cost more
// than a quiet refresh of 100k sockets.
const FPS = 20

// The smallest terminal the dashboard draws in.
const minWidth, minHeight = 40, 8

// Fixed lines around the table: header, tabs, column titles, and the
// footer's status and help lines.
const chromeLines = 5

// View draws the dashboard.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "portwarden · " + m.cfg.Host
	return v
}

func (m *Model) render() string {
	if m.width == 0 || m.height == 0 {
		return ""
	}
	if m.width < minWidth || m.height < minHeight {
		return fit(fmt.Sprintf("terminal too small (%d×%d): portwarden needs %d×%d", m.width, m.height, minWidth, minHeight), m.width)
	}
	if m.mode == modeHelp {
		return m.helpScreen()
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, m.header(), m.tabs())
	t := m.table()
	t.empty = m.emptyMessage()
	lines = append(lines, t.View()...)
	if m.paneOpen() {
		lines = append(lines, m.styles.Border.Render(strings.Repeat("─", m.width)))
		switch {
		case m.focused != nil:
			lines = append(lines, m.focused.View()...)
		case m.warningsOpen:
			lines = append(lines, fitLines(m.warningLines(), m.width, m.detailHeight())...)
		default:
			lines = append(lines, m.detail.View()...)
		}
	}
	lines = append(lines, m.statusLine(), m.footerHelp())
	return strings.Join(lines, "\n")
}

// tableHeight is the number of data rows the table gets.
func (m *Model) tableHeight() int {
	h := m.height - chromeLines
	if m.paneOpen() {
		h -= 1 + m.detailHeight()
	}
	return max(1, h)
}

// paneOpen reports whether the lower pane shows: details, a dialog or the
// mark form.
func (m *Model) paneOpen() bool { return m.detailOpen || m.warningsOpen || m.focused != nil }

// detailHeight is the detail pane's height: half the body, and nearly all
// of it on a short terminal.
func (m *Model) detailHeight() int {
	body := m.height - chromeLines - 1
	if body < 14 {
		return max(1, body-3)
	}
	return body / 2
}

func (m *Model) header() string {
	st := m.styles
	who := "root"
	if !m.cfg.Root {
		who = "not root"
	}
	context := []string{st.Title.Render("portwarden"), m.cfg.Host, who, "every " + m.cfg.Interval.String()}
	var counts []string
	if m.loaded {
		listening := m.summary.ListenerCount()
		ext := 0
		for _, n := range m.summary.External {
			ext += n
		}
		counts = append(counts, strconv.Itoa(listening)+" listening")
		un := strconv.Itoa(m.summary.Unexpected) + " unexpected"
		if m.summary.Unexpected > 0 {
			un = st.Unexpected.Render(un)
		}
		ex := strconv.Itoa(ext) + " external"
		if ext > 0 {
			ex = st.External.Render(ex)
		}
		counts = append(counts, un, ex)
	} else {
		counts = append(counts, "collecting…")
	}
	paused := ""
	if m.paused {
		paused = "  " + st.Paused.Render(" PAUSED ")
	}
	// On a narrow terminal the counts matter more than the context.
	for n := len(context); n >= 1; n-- {
		line := strings.Join(append(context[:n:n], counts...), " · ") + paused
		if ansi.StringWidth(line) <= m.width || n == 1 {
			return fit(line, m.width)
		}
	}
	return ""
}

// shortViewNames name the tabs not shown when the full names do not fit.
var shortViewNames = [viewCount]string{"Listen", "Conns", "All", "Procs", "Ctrs", "Hist", "Raw", "Peers"}

func (m *Model) tabs() string {
	tabs := func(names *[viewCount]string) []string {
		var parts []string
		for v := range viewCount {
			if v == m.view {
				parts = append(parts, m.styles.ActiveTab.Render("["+strconv.Itoa(int(v)+1)+" "+viewNames[v]+"]"))
			} else {
				parts = append(parts, m.styles.Tab.Render(" "+strconv.Itoa(int(v)+1)+" "+names[v]+" "))
			}
		}
		return parts
	}
	full := tabs(&viewNames)
	line := strings.Join(full, " ")
	if ansi.StringWidth(line) > m.width {
		line = strings.Join(full, "") // each tab's own padding still parts them
	}
	if ansi.StringWidth(line) > m.width {
		line = strings.Join(tabs(&shortViewNames), "") // every tab in 80 columns
	}
	return fit(line, m.width)
}

func (m *Model) emptyMessage() string {
	switch {
	case !m.loaded:
		return "collecting sockets…"
	case !m.table().query.empty():
		return "no rows match the filter (esc clears it)"
	case m.view == viewHistory:
		return historyEmpty(m.frame.Recent)
	case m.view == viewPeers:
		return peersEmpty(m.frame.Peers)
	}
	return "nothing here"
}

// statusLine shows, by priority: the filter being typed, an error or
// message, the filter in force, a hint about missing owners, the row count.
func (m *Model) statusLine() string {
	st := m.styles
	t := m.table()
	count := fmt.Sprintf("%d of %d rows", len(t.visible), len(t.rows))
	if m.view == viewHistory && m.loaded {
		count = m.windowLine() + " · " + count
	}
	switch {
	case m.mode == modeFilter:
		return fit(m.filter.View(), m.width)
	case m.status != "" && m.statusErr:
		return fit(st.Error.Render(m.status), m.width)
	case m.status != "":
		return fit(st.Status.Render(m.status), m.width)
	case m.loaded && m.frame.BaselineErr != nil && !m.warningsOpen:
		return fit(st.Error.Render("the baseline cannot be read (w shows why)")+" · "+count, m.width)
	case m.filter.Value() != "":
		return fit("filter: "+m.filter.Value()+" · "+count+" · esc clears", m.width)
	case m.loaded && !m.frame.Snapshot.Complete && !m.cfg.Root:
		return fit(st.Hint.Render("not root: owners of other users' sockets show as ? — run with sudo to see them")+" · "+count, m.width)
	case m.loaded && len(m.warnings()) > 0 && !m.warningsOpen:
		return fit(st.Hint.Render(safetext.Count(len(m.warnings()), "warning", "warnings")+" (w shows them)")+" · "+count, m.width)
	}
	return fit(st.Muted.Render(count), m.width)
}

// unknownOwner says what a ? owner means, truthfully for who runs it.
func (m *Model) unknownOwner() string {
	if m.cfg.Root {
		return "owner unknown: its files are unreadable, even by root"
	}
	return "owner unknown: run as root to see it"
}

// warnings are what the admin should know about the current frame: a
// baseline that cannot be read, and what the collection skipped.
func (m *Model) warnings() []string {
	if !m.loaded {
		return nil
	}
	var out []string
	if m.frame.BaselineErr != nil {
		out = append(out, m.frame.BaselineErr.Error()+" (judging with the last baseline that loaded)")
	}
	return append(out, m.frame.Snapshot.Warnings...)
}

// warningLines is the warnings pane: every warning, whole.
func (m *Model) warningLines() []string {
	d := &detailWriter{width: m.width, st: m.styles}
	d.title("Warnings")
	ws := m.warnings()
	if len(ws) == 0 {
		d.plain("None: everything could be read.")
	}
	for _, w := range ws {
		d.plain("• " + safetext.Visible(w))
	}
	return d.lines
}

func (m *Model) footerHelp() string {
	switch {
	case m.focused != nil:
		return fit(m.help.View(m.focused), m.width)
	case m.mode == modeFilter:
		return fit(m.help.View(filterKeys{m.keys}), m.width)
	}
	return fit(m.help.View(m.keys), m.width)
}

func (m *Model) helpScreen() string {
	st := m.styles
	lines := []string{st.Title.Render("portwarden — keys"), ""}
	lines = append(lines, strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n")...)
	lines = append(lines, "",
		st.DetailLabel.Render("Reading the table"),
		"  "+st.Unexpected.Render("UNEXPECTED")+"  a listener not in the baseline, and its risk: low, med, high, crit",
		"  "+st.External.Render("EXTERNAL")+"    a connection with a public peer address",
		"  "+st.External.Render("BLOCKED")+"     a connection whose peer portwarden blocks (b; portwarden unblock)",
		"  "+st.Risky.Render("risky")+"       a high-risk service, even if expected",
		"  "+st.Expected.Render("expected")+"    covered by the baseline (dimmed)",
		"  *           after an address: bound to every interface (0.0.0.0 or [::])",
		"  + / -       in the first column: appeared / vanished at the last refresh",
		"  ?           "+m.unknownOwner(),
		"", st.Muted.Render("?, esc or q goes back; any other key goes back and does what it does"))
	for i := range lines {
		lines[i] = fit(lines[i], m.width)
	}
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	return strings.Join(lines, "\n")
}

// fit cuts a line to the terminal width, never wrapping it.
func fit(s string, width int) string {
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}
