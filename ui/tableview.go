package ui

import (
	"charm.land/lipgloss/v2"

	"github.com/portwarden/portwarden/services/verdict"
)

// View draws the column titles and the rows on screen: exactly height+1
// lines.
func (t *table) View() []string {
	st := t.styles
	lines := make([]string, 0, t.height+1)
	lines = append(lines, st.ColumnTitle.Render(t.line(t.titleCells())))
	end := min(len(t.visible), t.offset+t.height)
	cells := make([]string, len(t.columns))
	for i := t.offset; i < end; i++ {
		r := t.visible[i]
		copy(cells, r.cells)
		cells[0] = statusMark(r.status)
		style := t.rowStyle(r)
		if i == t.cursor {
			style = style.Reverse(true)
		}
		lines = append(lines, style.Render(t.line(cells)))
	}
	if len(t.visible) == 0 {
		lines = append(lines, st.Muted.Render(fit(t.empty, t.width)))
	}
	for len(lines) < t.height+1 {
		lines = append(lines, "")
	}
	return lines
}

func statusMark(s rowStatus) string {
	switch s {
	case statusNew:
		return "+"
	case statusGone:
		return "-"
	}
	return " "
}

// rowStyle highlights a row by what happened to it, else by its verdict.
func (t *table) rowStyle(r *row) lipgloss.Style {
	st := t.styles
	switch r.status {
	case statusGone:
		return st.Gone
	case statusNew:
		return st.New
	}
	switch r.class {
	case verdict.ClassUnexpected:
		return st.Unexpected
	case verdict.ClassExternal:
		return st.External
	case verdict.ClassRisky:
		return st.Risky
	case verdict.ClassExpected:
		return st.Expected
	}
	return lipgloss.NewStyle()
}
