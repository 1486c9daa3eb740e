package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/baseline"
)

// formKeyMap is what the mark form answers to; every other key, and every
// paste, goes to the focused field.
type formKeyMap struct {
	Next, Save, Cancel key.Binding
}

func newFormKeyMap() formKeyMap {
	return formKeyMap{
		Next:   key.NewBinding(key.WithKeys("tab", "shift+tab", "up", "down"), key.WithHelp("tab", "next field")),
		Save:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "save")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

func (k formKeyMap) ShortHelp() []key.Binding  { return []key.Binding{k.Next, k.Save, k.Cancel} }
func (k formKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// markForm asks why a listener is expected and who owns it.
type markForm struct {
	formKeyMap
	entry  baseline.Entry
	inputs [2]textinput.Model // reason, owner
	focus  int
	mark   func(baseline.Entry) tea.Cmd
	styles Styles
	width  int
	height int
	closing
	// problem is what keeps the form from saving, shown until fixed.
	problem string
}

const (
	fieldReason = iota
	fieldOwner
)

// newMarkForm returns the form for entry, the owner prefilled; mark makes
// the command that records the filled-in entry.
func newMarkForm(st Styles, e baseline.Entry, owner string, mark func(baseline.Entry) tea.Cmd) *markForm {
	f := &markForm{formKeyMap: newFormKeyMap(), entry: e, mark: mark, styles: st}
	f.inputs[fieldReason] = newInput("reason: ", "")
	f.inputs[fieldReason].Placeholder = "why this port is open"
	f.inputs[fieldOwner] = newInput("owner:  ", owner)
	return f
}

// Init focuses the reason field.
func (f *markForm) Init() tea.Cmd { return f.inputs[fieldReason].Focus() }

func (f *markForm) SetSize(width, height int) {
	f.width, f.height = width, height
	for i := range f.inputs {
		f.inputs[i].SetWidth(max(10, width-len(f.inputs[i].Prompt)-4))
	}
}

func (f *markForm) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, f.Cancel):
			f.close(outcome{status: "not marked"})
			return nil
		case key.Matches(k, f.Next):
			f.inputs[f.focus].Blur()
			f.focus = 1 - f.focus
			return f.inputs[f.focus].Focus()
		case key.Matches(k, f.Save):
			e := f.entry
			e.Reason = strings.TrimSpace(f.inputs[fieldReason].Value())
			e.Owner = strings.TrimSpace(f.inputs[fieldOwner].Value())
			if e.Reason == "" {
				f.problem = "a reason is required: say why this port is open"
				return nil
			}
			f.close(outcome{status: "working…", action: f.mark(e)})
			return nil
		}
	}
	var cmd tea.Cmd
	f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg) // keys, paste and blink alike
	return cmd
}

func (f *markForm) View() []string {
	st := f.styles
	lines := []string{st.DetailTitle.Render("Mark " + safetext.Visible(f.entry.Key()) + " as expected"),
		"  It goes into the baseline with today's date; check will stop reporting it.", "",
		"  " + f.inputs[fieldReason].View(), "  " + f.inputs[fieldOwner].View()}
	if f.problem != "" {
		lines = append(lines, "", "  "+st.Error.Render(fmt.Sprint(f.problem)))
	}
	return fitLines(lines, f.width, f.height)
}
