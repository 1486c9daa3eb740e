package ui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
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

// fitChoices fits a dialog to exactly h lines of width w: its question
// (head) cut short when it must, so that its choices (tail) — what the
// keys do — always show in full. Choices too wide for one line are
// wrapped between items.
func fitChoices(head, tail []string, w, h int) []string {
	var wrapped []string
	for _, l := range tail {
		wrapped = append(wrapped, wrapItems(l, " · ", w)...)
	}
	room := max(h-len(wrapped), 0)
	if len(head) > room && room > 0 {
		head = append(head[:room-1:room-1], "  …")
	} else if len(head) > room {
		head = nil
	}
	return fitLines(append(head, wrapped...), w, h)
}

// wrapItems breaks a line of items joined by sep into lines no wider than
// w, between items; the lines after the first are indented as the first.
func wrapItems(line, sep string, w int) []string {
	if ansi.StringWidth(line) <= w {
		return []string{line}
	}
	indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
	var out []string
	cur := ""
	for _, item := range strings.Split(strings.TrimLeft(line, " "), sep) {
		switch {
		case cur == "":
			cur = indent + item
		case ansi.StringWidth(cur+sep+item) <= w:
			cur += sep + item
		default:
			out, cur = append(out, cur), indent+item
		}
	}
	return append(out, cur)
}
