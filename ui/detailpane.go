package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// detailKeyMap scrolls the detail pane.
type detailKeyMap struct {
	ScrollUp, ScrollDown key.Binding
}

func newDetailKeyMap() detailKeyMap {
	return detailKeyMap{
		ScrollUp:   key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "scroll details up")),
		ScrollDown: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "scroll details down")),
	}
}

// detailPane shows the explanation of the selected row, scrolled by half
// a pane at a time. The root gives it its text.
type detailPane struct {
	keys   detailKeyMap
	styles Styles
	text   []string
	scroll int
	width  int
	height int
}

func newDetailPane(keys detailKeyMap, styles Styles) *detailPane {
	return &detailPane{keys: keys, styles: styles}
}

// SetContent replaces the text; the scroll position stays.
func (d *detailPane) SetContent(text []string) { d.text = text }

// Top scrolls back to the start, as for a newly selected row.
func (d *detailPane) Top() { d.scroll = 0 }

func (d *detailPane) SetSize(width, height int) { d.width, d.height = width, max(1, height) }

func (d *detailPane) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	step := max(1, d.height/2)
	switch {
	case key.Matches(k, d.keys.ScrollDown):
		d.scroll = min(d.scroll+step, max(0, len(d.text)-d.height))
	case key.Matches(k, d.keys.ScrollUp):
		d.scroll = max(0, d.scroll-step)
	}
	return nil
}

// View returns exactly height lines: the text from the scroll position,
// and a note of what is below when it does not fit.
func (d *detailPane) View() []string {
	h := d.height
	rest := d.text[max(0, min(d.scroll, len(d.text)-h)):]
	lines := make([]string, h)
	for i := range lines {
		if i < len(rest) {
			lines[i] = fit(rest[i], d.width)
		}
	}
	if len(rest) > h {
		lines[h-1] = fit(d.styles.Muted.Render(fmt.Sprintf("… %d more lines (ctrl+d scrolls)", len(rest)-h+1)), d.width)
	}
	return lines
}

func (d *detailPane) ShortHelp() []key.Binding {
	return []key.Binding{d.keys.ScrollDown, d.keys.ScrollUp}
}
func (d *detailPane) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }
