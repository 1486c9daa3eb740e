package ui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/portwarden/portwarden/safetext"
)

// dialogKeyMap is what a dialog answers to. The answer is no unless the
// admin presses Yes — or, for a danger, types the PID and presses Confirm.
type dialogKeyMap struct {
	Yes, No, Confirm, Cancel key.Binding
	typing                   bool
}

func newDialogKeyMap(typing bool) dialogKeyMap {
	return dialogKeyMap{
		Yes:     key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:      key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/any key", "no")),
		Confirm: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "confirm")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		typing:  typing,
	}
}

func (k dialogKeyMap) ShortHelp() []key.Binding {
	if k.typing {
		return []key.Binding{k.Confirm, k.Cancel}
	}
	return []key.Binding{k.Yes, k.No}
}

func (k dialogKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// dialog asks a yes/no question about exactly what will be affected. For
// a danger (the admin's own session) y is not enough: the PID must be
// typed. action closes over captured values, never over the model.
type dialog struct {
	dialogKeyMap
	title   string
	lines   []string
	typePID string // non-empty: the PID that must be typed to confirm
	input   textinput.Model
	action  tea.Cmd
	styles  Styles
	width   int
	height  int
	closing
}

// newDialog returns a dialog; typePID, when set, must be typed to confirm.
func newDialog(st Styles, title string, lines []string, typePID, prompt string, action tea.Cmd) *dialog {
	d := &dialog{dialogKeyMap: newDialogKeyMap(typePID != ""), title: title, lines: lines,
		typePID: typePID, action: action, styles: st}
	if typePID != "" {
		d.input = newInput(prompt, "")
	}
	return d
}

// Init focuses the PID input, when there is one.
func (d *dialog) Init() tea.Cmd {
	if d.typePID == "" {
		return nil
	}
	return d.input.Focus()
}

func (d *dialog) SetSize(width, height int) {
	d.width, d.height = width, height
	d.input.SetWidth(max(10, width-len(d.input.Prompt)-4))
}

func (d *dialog) Update(msg tea.Msg) tea.Cmd {
	k, isKey := msg.(tea.KeyPressMsg)
	switch {
	case d.typePID != "" && isKey && key.Matches(k, d.Cancel):
		d.close(outcome{status: "cancelled: nothing was done"})
	case d.typePID != "" && isKey && key.Matches(k, d.Confirm):
		if typed := strings.TrimSpace(d.input.Value()); typed != d.typePID {
			// What is asked for may be a PID, a port or an address.
			d.close(outcome{status: fmt.Sprintf("%s did not match %s: nothing was done", strconv.Quote(safetext.Visible(typed)), d.typePID)})
		} else {
			d.close(outcome{status: "working…", action: d.action})
		}
	case d.typePID != "":
		var cmd tea.Cmd
		d.input, cmd = d.input.Update(msg) // keys, paste and blink alike
		return cmd
	case isKey && key.Matches(k, d.Yes):
		d.close(outcome{status: "working…", action: d.action})
	case isKey: // No, and any other key: no is the default answer
		d.close(outcome{status: "cancelled: nothing was done"})
	}
	return nil
}

func (d *dialog) View() []string {
	st := d.styles
	lines := questionLines(st, d.title, d.lines)
	if d.typePID != "" {
		lines = append(lines, "  "+d.input.View())
	} else {
		lines = append(lines, "  "+st.DetailLabel.Render("y")+" yes · any other key: no (the default)")
	}
	return fitLines(lines, d.width, d.height)
}

// questionLines is the top of a dialog: its title, then what it will do,
// a danger ("!!! …") in the warning style, and a blank line.
func questionLines(st Styles, title string, what []string) []string {
	lines := []string{st.DetailTitle.Render(title)}
	for _, l := range what {
		style := st.Header
		if strings.HasPrefix(l, "!!!") {
			style = st.Unexpected
		}
		lines = append(lines, "  "+style.Render(l))
	}
	return append(lines, "")
}

func newInput(prompt, value string) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.SetValue(value)
	return in
}
