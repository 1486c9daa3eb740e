package ui

import (
	"syscall"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// onKey handles a key in normal mode.
func (m Model) onKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	was := m.table().cursorKey
	next, cmd := m.handleKey(msg)
	if nm, ok := next.(Model); ok && nm.table().cursorKey != was {
		nm.detailScroll = 0 // a new row's details start at the top
		next = nm
	}
	return next, cmd
}

func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	t := m.table()
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.mode = modeHelp
		return m, nil
	case key.Matches(msg, k.Up):
		t.move(-1)
	case key.Matches(msg, k.Down):
		t.move(1)
	case key.Matches(msg, k.PageUp):
		t.move(-t.height)
	case key.Matches(msg, k.PageDown):
		t.move(t.height)
	case key.Matches(msg, k.Top):
		t.moveTo(0)
	case key.Matches(msg, k.Bottom):
		t.moveTo(len(t.visible) - 1)
	case key.Matches(msg, k.NextView):
		m.switchView((m.view + 1) % viewCount)
	case key.Matches(msg, k.PrevView):
		m.switchView((m.view + viewCount - 1) % viewCount)
	case key.Matches(msg, k.View1):
		m.switchView(viewListeners)
	case key.Matches(msg, k.View2):
		m.switchView(viewConnections)
	case key.Matches(msg, k.View3):
		m.switchView(viewAll)
	case key.Matches(msg, k.View4):
		m.switchView(viewProcesses)
	case key.Matches(msg, k.Detail):
		m.detailOpen = !m.detailOpen
		m.detailScroll = 0
	case key.Matches(msg, k.DetailDown):
		m.detailScroll += max(1, m.detailHeight()/2)
	case key.Matches(msg, k.DetailUp):
		m.detailScroll = max(0, m.detailScroll-max(1, m.detailHeight()/2))
	case key.Matches(msg, k.Filter):
		m.mode = modeFilter
		return m, m.filter.Focus()
	case key.Matches(msg, k.ClearFilter):
		m.filter.SetValue("")
		m.applyFilter()
	case key.Matches(msg, k.Sort):
		t.setSort(t.nextSortColumn(), false)
	case key.Matches(msg, k.Reverse):
		t.setSort(t.sortCol, !t.reverse)
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if !m.paused && !m.inflight {
			return m, m.collect()
		}
	case key.Matches(msg, k.Mark):
		return m.startMark()
	case key.Matches(msg, k.Unmark):
		return m.startUnmark()
	case key.Matches(msg, k.Kill):
		return m.startKill(syscall.SIGTERM)
	case key.Matches(msg, k.KillNow):
		return m.startKill(syscall.SIGKILL)
	case key.Matches(msg, k.Disable):
		return m.startDisable()
	case key.Matches(msg, k.Refresh):
		if !m.inflight {
			m.status, m.statusErr = "", false
			return m, m.collect()
		}
	default:
		return m, nil
	}
	return m, m.fetchDetail()
}

// onFilterKey handles a key while the filter is being typed: the table
// narrows as the admin types.
func (m Model) onFilterKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.ClearFilter):
		m.filter.SetValue("")
		m.filter.Blur()
		m.mode = modeNormal
		m.applyFilter()
		return m, m.fetchDetail()
	case key.Matches(msg, m.keys.AcceptFilter):
		m.filter.Blur()
		m.mode = modeNormal
		return m, m.fetchDetail()
	}
	var cmd tea.Cmd
	before := m.filter.Value()
	m.filter, cmd = m.filter.Update(msg)
	if m.filter.Value() != before {
		m.applyFilter()
	}
	return m, cmd
}

// applyFilter narrows the tables to the filter text. Only the shown
// table filters now; the others do when they are next shown.
func (m *Model) applyFilter() {
	for v, t := range m.tables {
		t.terms = filterTerms(m.filter.Value())
		if viewKind(v) == m.view {
			t.refilter()
		}
	}
}

func (m *Model) switchView(v viewKind) {
	if v == m.view {
		return
	}
	m.view = v
	m.detailScroll = 0
	m.showFrame()
}

func (m *Model) resizeTables() {
	for _, t := range m.tables {
		t.setSize(m.width, m.tableHeight())
	}
}
