package ui

import (
	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// component is a part of the dashboard that takes focus: while focused it
// receives every message (keys, paste, cursor blink), it draws itself in
// the size the root gives it, and its keymap drives the footer.
type component interface {
	Update(msg tea.Msg) tea.Cmd
	View() []string // exactly as many lines as SetSize's height
	SetSize(width, height int)
	help.KeyMap
}

// outcome is how a dialog or form closed: the status line's message and,
// when the admin said yes, the action to run.
type outcome struct {
	status string
	isErr  bool
	action tea.Cmd
}

// closer is a component that closes itself; closed reports how, once.
type closer interface {
	component
	closed() (outcome, bool)
}

// lines fits text to exactly h lines of width w, keeping the last line
// (a prompt) visible when the text is longer.
func fitLines(text []string, w, h int) []string {
	out := make([]string, h)
	for i := range out {
		if i < len(text) {
			out[i] = fit(text[i], w)
		}
	}
	if len(text) > h && h > 0 {
		out[h-1] = fit(text[len(text)-1], w)
	}
	return out
}

// closing is what a closer embeds: the outcome it closed with, kept once.
type closing struct{ result *outcome }

// close records how the component closed; the first outcome stands.
func (c *closing) close(o outcome) {
	if c.result == nil {
		c.result = &o
	}
}

func (c *closing) closed() (outcome, bool) {
	if c.result == nil {
		return outcome{}, false
	}
	return *c.result, true
}
