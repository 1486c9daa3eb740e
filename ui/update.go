package ui

import (
	"syscall"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// onKey handles a key in normal mode.
func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	was := m.table().cursorKey
	cmd := m.handleKey(msg)
	if m.table().cursorKey != was {
		m.detail.Top() // a new row's details start at the top
	}
	return cmd
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	t := m.table()
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.mode = modeHelp
		return nil
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
	case key.Matches(msg, k.View5):
		m.switchView(viewContainers)
	case key.Matches(msg, k.View6):
		m.switchView(viewHistory)
	case key.Matches(msg, k.View7):
		m.switchView(viewRaw)
	case key.Matches(msg, k.View8):
		m.switchView(viewPeers)
	case key.Matches(msg, k.Detail):
		if g := m.selectedGroup(); g != nil {
			m.expandGroup(g)
			return nil
		}
		m.detailOpen = !m.detailOpen
		m.detail.Top()
	case m.view == viewHistory && (key.Matches(msg, k.Earlier) || key.Matches(msg, k.Later) ||
		key.Matches(msg, k.Narrower) || key.Matches(msg, k.Wider)):
		m.moveWindow(msg)
		m.regroup() // another window: its rows are new, not the old ones gone
		return m.collect()
	case m.view == viewHistory && key.Matches(msg, k.Group):
		m.histGroup = (m.histGroup + 1) % groupingCount
		m.regroup()
		m.showFrame()
	case key.Matches(msg, k.Filter):
		m.mode = modeFilter
		return m.filter.Focus()
	case key.Matches(msg, k.Warnings):
		m.warningsOpen = !m.warningsOpen
	case key.Matches(msg, k.Back):
		// esc closes what is open: a pane first, then the filter.
		if m.warningsOpen || m.detailOpen {
			m.warningsOpen, m.detailOpen = false, false
			return nil
		}
		m.filter.SetValue("")
		m.applyFilter()
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if !m.paused {
			return m.collect()
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
	case key.Matches(msg, k.Close):
		return m.startClose()
	case key.Matches(msg, k.Block):
		return m.startBlock()
	case key.Matches(msg, k.Refresh):
		if !m.inflight {
			m.status, m.statusErr = "", false
			return m.collectFresh()
		}
	default:
		// Moving and sorting are the table's keys, scrolling the pane's.
		t.Update(msg)
		if m.detailOpen {
			m.detail.Update(msg)
		}
	}
	if m.lacksView() && !m.paused {
		return tea.Batch(m.collect(), m.fetchDetail()) // the view opened: read what it shows now
	}
	return m.fetchDetail()
}

// onHelpMsg handles a message while help shows: ?, esc and q close it;
// any other key closes it and then does what it does.
func (m *Model) onHelpMsg(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	m.mode = modeNormal
	if key.Matches(k, m.keys.CloseHelp) {
		return nil
	}
	return m.onKey(k)
}

// onFilterMsg handles a message while the filter is being typed: the
// table narrows as the admin types, and paste and blink reach the input.
func (m *Model) onFilterMsg(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, m.keys.ClearFilter):
			m.filter.SetValue("")
			m.filter.Blur()
			m.mode = modeNormal
			m.applyFilter()
			return m.fetchDetail()
		case key.Matches(k, m.keys.AcceptFilter):
			m.filter.Blur()
			m.mode = modeNormal
			return m.fetchDetail()
		}
	}
	var cmd tea.Cmd
	before := m.filter.Value()
	m.filter, cmd = m.filter.Update(msg)
	if m.filter.Value() != before {
		m.applyFilter()
	}
	return cmd
}

// applyFilter narrows the tables to the filter text. Only the shown
// table filters now; the others do when they are next shown.
func (m *Model) applyFilter() {
	for v, t := range m.tables {
		t.query = parseFilter(m.filter.Value())
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
	m.detail.Top()
	m.showFrame()
}

// lacksView reports whether the shown view needs what the frame lacks:
// the peers and the record are read only while their view shows, so
// that no other refresh pays for them.
func (m *Model) lacksView() bool {
	return m.loaded && (m.view == viewPeers && m.frame.Peers == nil || m.view == viewHistory && m.frame.Recent == nil)
}

func (m *Model) resizeTables() {
	for _, t := range m.tables {
		t.SetSize(m.width, m.tableHeight())
	}
	m.detail.SetSize(m.width, m.detailHeight())
	if m.focused != nil {
		m.focused.SetSize(m.width, m.detailHeight())
	}
}
