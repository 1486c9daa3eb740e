package ui

import "charm.land/bubbles/v2/key"

// keyMap is every binding of the dashboard. It drives the footer (short
// help) and the help screen (full help), so the two never disagree.
type keyMap struct {
	Table                                   tableKeyMap
	NextView, PrevView, View1, View2, View3 key.Binding
	View4, View5, View6, View7, View8       key.Binding
	Detail                                  key.Binding
	DetailPane                              detailKeyMap
	Filter, ClearFilter, AcceptFilter, Back key.Binding
	CloseHelp                               key.Binding
	Pause, Refresh, Help, Quit, QuitNow     key.Binding
	Warnings                                key.Binding
	Mark, Unmark, Kill, KillNow, Disable    key.Binding
	Close, Block                            key.Binding
	// The History view's window and grouping.
	Earlier, Later, Narrower, Wider, Group key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Table:        newTableKeyMap(),
		NextView:     key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next view")),
		PrevView:     key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous view")),
		View1:        key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "listeners")),
		View2:        key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "connections")),
		View3:        key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "all sockets")),
		View4:        key.NewBinding(key.WithKeys("4"), key.WithHelp("4", "by process")),
		View5:        key.NewBinding(key.WithKeys("5"), key.WithHelp("5", "by container")),
		View6:        key.NewBinding(key.WithKeys("6"), key.WithHelp("6", "history")),
		View7:        key.NewBinding(key.WithKeys("7"), key.WithHelp("7", "raw sockets, eBPF")),
		View8:        key.NewBinding(key.WithKeys("8"), key.WithHelp("8", "peers")),
		Detail:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		DetailPane:   newDetailKeyMap(),
		Filter:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Back:         key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close pane / filter")),
		CloseHelp:    key.NewBinding(key.WithKeys("?", "esc", "q"), key.WithHelp("?/esc/q", "close help")),
		AcceptFilter: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		Pause:        key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Refresh:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh now")),
		Warnings:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "warnings")),
		Help:         key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:         key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		QuitNow:      key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit anywhere")),
		Mark:         key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mark expected")),
		Unmark:       key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "unmark")),
		Kill:         key.NewBinding(key.WithKeys("k"), key.WithHelp("k", "kill (TERM)")),
		KillNow:      key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "kill (KILL)")),
		Disable:      key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "disable service")),
		Close:        key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "close connection")),
		Block:        key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "block peer")),
		Earlier:      key.NewBinding(key.WithKeys("["), key.WithHelp("[", "older window")),
		Later:        key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "newer window")),
		Narrower:     key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "shorter window")),
		Wider:        key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "longer window")),
		Group:        key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "group history")),
	}
}

// readOnly disables every action: they vanish from the footer and help,
// and k, which kills otherwise, moves up as in vi.
func (k *keyMap) readOnly() {
	for _, b := range []*key.Binding{&k.Mark, &k.Unmark, &k.Kill, &k.KillNow, &k.Disable, &k.Close, &k.Block} {
		b.SetEnabled(false)
	}
	k.Table.Up = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up"))
}

// ShortHelp is the footer: the keys a newcomer needs first, with short
// labels so that help and quit still fit in 80 columns.
func (k keyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	return []key.Binding{k.Table.ShortHelp()[0], short(k.NextView, "view"), short(k.Detail, "info"), k.Filter,
		short(k.Mark, "mark"), short(k.Kill, "kill"), k.Help, k.Quit}
}

// FullHelp is the help screen, in three columns so it fits 80 columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Table.Up, k.Table.Down, k.Table.PageUp, k.Table.PageDown, k.Table.Top, k.Table.Bottom, k.Help, k.Quit},
		{k.NextView, k.PrevView, k.View1, k.View2, k.View3, k.View4, k.View5, k.View6, k.View7, k.View8, k.Pause, k.Refresh, k.Warnings, k.QuitNow,
			k.Earlier, k.Later, k.Narrower, k.Wider, k.Group},
		{k.Detail, k.DetailPane.ScrollUp, k.DetailPane.ScrollDown, k.Filter, k.Back, k.Table.Sort, k.Table.Reverse,
			k.Mark, k.Unmark, k.Kill, k.KillNow, k.Disable, k.Close, k.Block},
	}
}

// filterKeys is the footer while typing a filter.
type filterKeys struct{ keyMap }

func (k filterKeys) ShortHelp() []key.Binding { return []key.Binding{k.AcceptFilter, k.ClearFilter} }
func (k filterKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.AcceptFilter, k.ClearFilter}}
}

// tableKeyMap moves the cursor and sorts a table.
type tableKeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Sort, Reverse                           key.Binding
}

func newTableKeyMap() tableKeyMap {
	return tableKeyMap{
		Up:       key.NewBinding(key.WithKeys("up"), key.WithHelp("↑", "up")), // k kills; see readOnly
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")), // b blocks
		PageDown: key.NewBinding(key.WithKeys("pgdown", "f", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
		Sort:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort by next column")),
		Reverse:  key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse sort")),
	}
}

func (k tableKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "move"))}
}

func (k tableKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Sort, k.Reverse}}
}
