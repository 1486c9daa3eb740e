package ui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// table is a virtualized table of rows keyed by identity. It keeps the
// cursor on the same row across refreshes and the order stable: existing
// rows stay where they are and new ones are inserted where the sort puts
// them, so a refresh redraws only what changed. Only visible rows are
// drawn, so 50k rows cost what 40 do.
type table struct {
	columns []column
	sortCol int
	reverse bool

	rows    []*row          // every row, in display order
	index   map[rowKey]*row // rows by key, for reuse across refreshes
	visible []*row          // rows passing the filter, in order
	query   filterQuery     // the filter

	cursorKey rowKey
	cursor    int // index into visible
	offset    int // first visible row on screen

	width, height int // height counts data rows, not the title line
	widths        []int

	keys   tableKeyMap
	styles Styles
	empty  string // said in place of rows when there are none
}

func newTable(cols []column, sortCol int, keys tableKeyMap, styles Styles) *table {
	return &table{columns: cols, sortCol: sortCol, index: map[rowKey]*row{}, keys: keys, styles: styles}
}

// Update moves the cursor and sorts, for the keys of the table's keymap.
func (t *table) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, t.keys.Up):
		t.move(-1)
	case key.Matches(k, t.keys.Down):
		t.move(1)
	case key.Matches(k, t.keys.PageUp):
		t.move(-t.height)
	case key.Matches(k, t.keys.PageDown):
		t.move(t.height)
	case key.Matches(k, t.keys.Top):
		t.moveTo(0)
	case key.Matches(k, t.keys.Bottom):
		t.moveTo(len(t.visible) - 1)
	case key.Matches(k, t.keys.Sort):
		t.setSort(t.nextSortColumn(), false)
	case key.Matches(k, t.keys.Reverse):
		t.setSort(t.sortCol, !t.reverse)
	}
	return nil
}

func (t *table) ShortHelp() []key.Binding  { return t.keys.ShortHelp() }
func (t *table) FullHelp() [][]key.Binding { return t.keys.FullHelp() }

func (t *table) compare(a, b *row) int {
	c := t.columns[t.sortCol].compare(&a.sortKeys, &b.sortKeys)
	if t.reverse {
		return -c
	}
	return c
}

// offer hands the table the row for key in the frame being built (gen):
// prev is the row it had, if any, and r what the frame would show. When r
// is nil or shows the same as prev, prev is kept; otherwise r replaces it
// in place at the next replace. It returns the row that will be shown.
func (t *table) offer(gen int64, prev, r *row) *row {
	if prev != nil && (r == nil || (r.sig != "" && r.sig == prev.sig)) {
		prev.gen = gen
		return prev
	}
	r.gen = gen
	if prev != nil {
		prev.successor = r
	}
	t.index[r.key] = r
	return r
}

// replace shows the rows offered for frame gen: rows that stay keep their
// place (replaced in place when they changed), new ones are inserted where
// the sort puts them and marked new unless first, and vanished ones are
// kept, marked gone, until expired says so. A steady refresh costs no map
// operation here: the marks do the bookkeeping.
func (t *table) replace(fresh []*row, gen int64, first bool, now int64, expired func(goneSince int64) bool) {
	kept := t.rows[:0]
	for _, old := range t.rows {
		r := old
		if s := old.successor; s != nil && s.gen == gen {
			r = s
		}
		old.successor = nil
		switch {
		case r.gen == gen:
			r.status, r.placed = statusSteady, gen
			kept = append(kept, r)
		case first || (old.status == statusGone && expired(old.goneSince)):
			// A table that missed frames has no idea when a row went.
			if t.index[old.key] == old {
				delete(t.index, old.key)
			}
		default:
			if old.status != statusGone {
				old.status, old.goneSince, old.sock = statusGone, now, -1
			}
			kept = append(kept, old)
		}
	}
	// Clear the tail the compaction left, so dropped rows can be collected.
	clear(t.rows[len(kept):])
	t.rows = kept
	var added []*row
	for _, r := range fresh {
		if r.placed != gen {
			r.placed = gen
			if !first {
				r.status = statusNew
			}
			added = append(added, r)
		}
	}
	if first {
		t.rows = append(t.rows, added...)
		t.sort()
		return
	}
	slices.SortFunc(added, t.compare)
	for _, r := range added {
		i, _ := slices.BinarySearchFunc(t.rows, r, t.compare)
		t.rows = slices.Insert(t.rows, i, r)
	}
	t.refilter()
}

// clearRows forgets every row: the next frame's are shown as the first,
// none new and none gone (the History view regrouped its rows).
func (t *table) clearRows() {
	clear(t.rows)
	t.rows, t.visible = t.rows[:0], t.visible[:0]
	clear(t.index)
}

// marked reports whether a row shows as new or gone: the next refresh
// has marks to clear, even when nothing else changed.
func (t *table) marked() bool {
	for _, r := range t.rows {
		if r.status != statusSteady {
			return true
		}
	}
	return false
}

// sort orders every row by the current sort column: on the first frame and
// when the admin asks, never on a plain refresh.
func (t *table) sort() {
	slices.SortStableFunc(t.rows, t.compare)
	t.refilter()
}

// setSort sorts by another column, or reverses.
func (t *table) setSort(col int, reverse bool) {
	t.sortCol, t.reverse = col, reverse
	t.sort()
}

// nextSortColumn returns the next sortable column after the current one.
func (t *table) nextSortColumn() int {
	for i := 1; i <= len(t.columns); i++ {
		c := (t.sortCol + i) % len(t.columns)
		if t.columns[c].compare != nil {
			return c
		}
	}
	return t.sortCol
}

// filterTerms splits a filter into the lower-case words a row must hold.

func (t *table) refilter() {
	t.visible = t.visible[:0]
	for _, r := range t.rows {
		if t.matches(r) {
			t.visible = append(t.visible, r)
		}
	}
	t.follow()
}

func (t *table) matches(r *row) bool { return t.query.matches(r) }

// follow puts the cursor back on its row after the rows changed, or, if
// that row is gone, at the same position.
func (t *table) follow() {
	for i, r := range t.visible {
		if r.key == t.cursorKey {
			t.cursor = i
			t.scroll()
			return
		}
	}
	t.moveTo(t.cursor)
}

// moveTo puts the cursor on visible row i, clamped.
func (t *table) moveTo(i int) {
	t.cursor = max(0, min(i, len(t.visible)-1))
	if len(t.visible) > 0 {
		t.cursorKey = t.visible[t.cursor].key
	}
	t.scroll()
}

func (t *table) move(delta int) { t.moveTo(t.cursor + delta) }

// scroll keeps the cursor on screen.
func (t *table) scroll() {
	h := max(1, t.height)
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+h {
		t.offset = t.cursor - h + 1
	}
	t.offset = max(0, min(t.offset, len(t.visible)-h))
}

// selected returns the row under the cursor, or nil.
func (t *table) selected() *row {
	if t.cursor < len(t.visible) && len(t.visible) > 0 {
		return t.visible[t.cursor]
	}
	return nil
}

// setSize lays the columns out for a width: columns drop, lowest priority
// first, until the narrowest widths fit; the room left grows them towards
// their ideal widths, highest priority first. Widths depend on the
// terminal, never on the data, so a refresh never shifts the layout.
func (t *table) SetSize(width, height int) {
	t.width, t.height = width, max(1, height)
	shown := make([]bool, len(t.columns))
	for i := range shown {
		shown[i] = true
	}
	need := func() int {
		n := 0
		for i, c := range t.columns {
			if shown[i] {
				n += c.min + 1
			}
		}
		return n - 1
	}
	byPriority := make([]int, len(t.columns))
	for i := range byPriority {
		byPriority[i] = i
	}
	slices.SortStableFunc(byPriority, func(a, b int) int { return t.columns[a].priority - t.columns[b].priority })
	for i, c := range t.columns {
		shown[i] = width >= c.from
	}
	for _, i := range byPriority {
		if need() <= width {
			break
		}
		shown[i] = false
	}
	t.widths = make([]int, len(t.columns))
	room := width - need()
	for i, c := range t.columns {
		if shown[i] {
			t.widths[i] = c.min
		}
	}
	for j := len(byPriority) - 1; j >= 0 && room > 0; j-- {
		i := byPriority[j]
		if !shown[i] {
			continue
		}
		grow := min(room, t.columns[i].ideal-t.widths[i])
		t.widths[i] += grow
		room -= grow
	}
	// Whatever is left goes to the last shown column, so rows fill the line.
	for i := len(t.columns) - 1; i >= 0 && room > 0; i-- {
		if shown[i] {
			t.widths[i] += room
			break
		}
	}
	t.scroll()
}

// line renders cells into the column widths: truncated with an ellipsis,
// never wrapped.
func (t *table) line(cells []string) string {
	var b strings.Builder
	b.Grow(t.width)
	first := true
	for i, w := range t.widths {
		if w == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		cell := cells[i]
		if ansi.StringWidth(cell) > w {
			if shorten := t.columns[i].shorten; shorten != nil {
				cell = shorten(cell, w)
			} else {
				cell = ansi.Truncate(cell, w, "…")
			}
		}
		b.WriteString(cell)
		if pad := w - ansi.StringWidth(cell); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
	}
	return b.String()
}

// titleCells returns the column titles, with the sort column marked.
func (t *table) titleCells() []string {
	cells := make([]string, len(t.columns))
	for i, c := range t.columns {
		cells[i] = c.title
		if i == t.sortCol {
			if t.reverse {
				cells[i] += "↓"
			} else {
				cells[i] += "↑"
			}
		}
	}
	return cells
}
