package ui

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/safetext"
)

// dialog asks a yes/no question about exactly what will be affected. The
// answer is No unless the admin presses y, or, for a danger, types the
// PID. confirm closes over the captured target, never over the model.
type dialog struct {
	title   string
	lines   []string
	typePID string // non-empty: the PID that must be typed to confirm
	input   textinput.Model
	confirm func() tea.Cmd
}

// markForm asks why a listener is expected and who owns it.
type markForm struct {
	entry  baseline.Entry
	inputs [2]textinput.Model // reason, owner
	focus  int
}

// Messages of the actions.
type (
	killPlanMsg struct {
		target action.Target
		sig    syscall.Signal
		plan   KillPlan
		err    error
	}
	disablePlanMsg struct {
		what   string // "tcp 127.0.0.1:8080"
		target string // the same as portwarden disable takes it
		plan   DisablePlan
		err    error
	}
	actionDoneMsg struct {
		text string
		err  error
		// stillRunning is set after a TERM the process survived.
		stillRunning bool
	}
)

func newInput(prompt, value string, width int) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.SetValue(value)
	in.SetWidth(max(10, width-len(prompt)-4))
	return in
}

// startMark opens the mark form for the selected listener.
func (m Model) startMark() (tea.Model, tea.Cmd) {
	s, _ := m.selectedSocket()
	if s == nil || !s.Listening() {
		m.status, m.statusErr = "mark works on listeners: select one in the Listeners view", true
		return m, nil
	}
	e := baseline.Entry{Proto: s.Proto.String(), Port: s.Local.Port(), Bind: s.Local.Addr().WithZone("").Unmap().String(), Added: m.cfg.Now()}
	if len(s.Processes) > 0 {
		e.Process = s.Processes[0].Name
	}
	f := &markForm{entry: e}
	f.inputs[0] = newInput("reason: ", "", m.width)
	f.inputs[0].Placeholder = "why this port is open"
	f.inputs[1] = newInput("owner:  ", m.cfg.Admin, m.width)
	m.form = f
	m.mode = modeForm
	return m, f.inputs[0].Focus()
}

func (m Model) onFormKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	f := m.form
	switch msg.String() {
	case "esc":
		m.form, m.mode = nil, modeNormal
		m.status, m.statusErr = "not marked", false
		return m, nil
	case "tab", "shift+tab", "up", "down":
		f.inputs[f.focus].Blur()
		f.focus = 1 - f.focus
		return m, f.inputs[f.focus].Focus()
	case "enter":
		e := f.entry
		e.Reason = strings.TrimSpace(f.inputs[0].Value())
		e.Owner = strings.TrimSpace(f.inputs[1].Value())
		if e.Reason == "" {
			m.status, m.statusErr = "a reason is required: say why this port is open", true
			return m, nil
		}
		m.form, m.mode = nil, modeNormal
		b := m.backend
		return m, func() tea.Msg {
			if err := b.Mark(e); err != nil {
				return actionDoneMsg{err: fmt.Errorf("mark %s: %w", e.Key(), err)}
			}
			return actionDoneMsg{text: "marked " + e.Key() + " as expected"}
		}
	}
	var cmd tea.Cmd
	f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
	return m, cmd
}

// startUnmark asks before removing the selected row's baseline entry.
func (m Model) startUnmark() (tea.Model, tea.Cmd) {
	_, v := m.selectedSocket()
	if v == nil || v.Baseline == nil {
		m.status, m.statusErr = "this row is not in the baseline", true
		return m, nil
	}
	e := *v.Baseline
	b := m.backend
	m.dialog = &dialog{
		title: "Remove this listener from the baseline?",
		lines: []string{"entry   " + e.Key(), fmt.Sprintf("reason  %q, owner %s, added %s", e.Reason, e.Owner, e.Added.Format("2006-01-02")),
			"It will show as UNEXPECTED again."},
		confirm: func() tea.Cmd {
			return func() tea.Msg {
				if err := b.Unmark(e); err != nil {
					return actionDoneMsg{err: fmt.Errorf("unmark %s: %w", e.Key(), err)}
				}
				return actionDoneMsg{text: "removed " + e.Key() + " from the baseline"}
			}
		},
	}
	m.mode = modeConfirm
	return m, nil
}

// startKill checks the selected process in a command; the dialog opens
// when the plan arrives.
func (m Model) startKill(sig syscall.Signal) (tea.Model, tea.Cmd) {
	p := m.selectedProcess()
	if p == nil {
		m.status, m.statusErr = "no process to kill on this row", true
		return m, nil
	}
	t := action.TargetOf(p)
	b := m.backend
	return m, func() tea.Msg {
		plan, err := b.PlanKill(t)
		return killPlanMsg{target: t, sig: sig, plan: plan, err: err}
	}
}

func (m Model) onKillPlan(msg killPlanMsg) (tea.Model, tea.Cmd) {
	if msg.err != nil {
		m.status, m.statusErr = "kill "+msg.target.String()+": "+msg.err.Error(), true
		return m, nil
	}
	t, sig := msg.target, msg.sig
	name := "SIGTERM (ask it to stop)"
	if sig == syscall.SIGKILL {
		name = "SIGKILL (stop it at once, no clean-up)"
	}
	lines := []string{
		"signal   " + name,
		"process  " + safetext.Visible(t.String()),
		"exe      " + orUnknown(safetext.Visible(t.Exe)),
		"command  " + orUnknown(safetext.Visible(strings.Join(t.Cmdline, " "))),
	}
	lines = append(lines, m.heldBy(t.PID)...)
	if msg.plan.ComesBack != "" {
		lines = append(lines, "note     "+msg.plan.ComesBack)
	}
	d := &dialog{title: "Kill this process?", lines: lines}
	if msg.plan.Danger != "" {
		d.lines = append(d.lines, "", "!!! "+msg.plan.Danger)
		d.typePID = strconv.Itoa(t.PID)
		d.input = newInput("type the PID to confirm: ", "", m.width)
	}
	b := m.backend
	d.confirm = func() tea.Cmd {
		return func() tea.Msg {
			ended, err := b.Kill(t, sig)
			switch {
			case err != nil:
				return actionDoneMsg{err: fmt.Errorf("kill %s: %w", t, err)}
			case !ended:
				return actionDoneMsg{text: t.String() + " is still running: press K to send SIGKILL", stillRunning: true}
			}
			return actionDoneMsg{text: t.String() + " has ended"}
		}
	}
	m.dialog, m.mode = d, modeConfirm
	if d.typePID != "" {
		return m, d.input.Focus()
	}
	return m, nil
}

// startDisable plans, in a command, how to disable the service behind the
// selected socket; the dialog shows the exact steps.
func (m Model) startDisable() (tea.Model, tea.Cmd) {
	s, _ := m.selectedSocket()
	if s == nil {
		m.status, m.statusErr = "disable works on a socket: select its row", true
		return m, nil
	}
	sock, b := *s, m.backend
	what := s.Proto.String() + " " + s.Local.String()
	target := s.Proto.String() + "/" + s.Local.String()
	return m, func() tea.Msg {
		p, err := b.PlanDisable(sock)
		return disablePlanMsg{what: what, target: target, plan: p, err: err}
	}
}

func (m Model) onDisablePlan(msg disablePlanMsg) (tea.Model, tea.Cmd) {
	if msg.err != nil {
		m.status, m.statusErr, m.statusAt = "disable "+msg.what+": "+msg.err.Error(), true, m.cfg.Now()
		return m, nil
	}
	p, b := msg.plan.Plan, m.backend
	lines := []string{"service  " + safetext.Visible(p.String()), "steps"}
	for i, s := range p.Steps {
		lines = append(lines, fmt.Sprintf("  %d. %s", i+1, safetext.Visible(s.Describe)))
	}
	if p.Note != "" {
		lines = append(lines, "note     "+safetext.Visible(p.Note))
	}
	if p.Manager == "systemd" {
		lines = append(lines, "", "To keep it from being started even by hand or by other units, mask it:",
			"portwarden disable --mask "+msg.target)
	}
	d := &dialog{
		title: "Disable the service behind " + msg.what + "?",
		lines: lines,
		confirm: func() tea.Cmd {
			return func() tea.Msg {
				if err := b.RunDisable(p); err != nil {
					return actionDoneMsg{err: fmt.Errorf("disable %s: %w", safetext.Visible(p.String()), err)}
				}
				return actionDoneMsg{text: "disabled " + safetext.Visible(p.String())}
			}
		},
	}
	if msg.plan.Danger != "" {
		d.lines = append(d.lines, "", "!!! "+msg.plan.Danger)
		d.typePID = strconv.Itoa(p.Holder.PID)
		d.input = newInput("type the PID "+d.typePID+" ("+safetext.Visible(p.Holder.Name)+") to confirm: ", "", m.width)
	}
	m.dialog, m.mode = d, modeConfirm
	if d.typePID != "" {
		return m, d.input.Focus()
	}
	return m, nil
}

// heldBy lists the sockets a process holds and how many other processes
// share them.
func (m *Model) heldBy(pid int) []string {
	var lines []string
	sharers := map[int]bool{}
	n := 0
	for i := range m.frame.Snapshot.Sockets {
		s := &m.frame.Snapshot.Sockets[i]
		if !holdsPID(s, pid) {
			continue
		}
		if n++; n <= 6 {
			lines = append(lines, "holds    "+s.Proto.String()+" "+s.Local.String()+" "+s.StateName())
		}
		for _, p := range s.Processes {
			if p.PID != pid {
				sharers[p.PID] = true
			}
		}
	}
	if n > 6 {
		lines = append(lines, fmt.Sprintf("holds    and %d more sockets", n-6))
	}
	if len(sharers) > 0 {
		lines = append(lines, fmt.Sprintf("shared   %d other processes hold these sockets too and keep them open", len(sharers)))
	}
	return lines
}

func holdsPID(s *sockets.Socket, pid int) bool {
	for _, p := range s.Processes {
		if p.PID == pid {
			return true
		}
	}
	return false
}

func (m Model) onDialogKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	d := m.dialog
	if d.typePID != "" {
		switch msg.String() {
		case "esc":
			return m.closeDialog("cancelled: nothing was done")
		case "enter":
			if strings.TrimSpace(d.input.Value()) != d.typePID {
				return m.closeDialog("the PID did not match: nothing was done")
			}
			m.dialog, m.mode = nil, modeNormal
			return m, d.confirm()
		}
		var cmd tea.Cmd
		d.input, cmd = d.input.Update(msg)
		return m, cmd
	}
	if key.Matches(msg, m.keys.Yes) {
		m.dialog, m.mode = nil, modeNormal
		m.status, m.statusErr = "working…", false
		return m, d.confirm()
	}
	return m.closeDialog("cancelled: nothing was done")
}

func (m Model) closeDialog(status string) (tea.Model, tea.Cmd) {
	m.dialog, m.mode = nil, modeNormal
	m.status, m.statusErr = status, false
	return m, nil
}

// onActionDone shows the result and refreshes, so the next frame proves it.
func (m Model) onActionDone(msg actionDoneMsg) (tea.Model, tea.Cmd) {
	if msg.err != nil {
		m.status, m.statusErr = msg.err.Error(), true
	} else {
		m.status, m.statusErr = msg.text, msg.stillRunning
	}
	m.statusAt = m.cfg.Now()
	if m.inflight {
		return m, nil
	}
	return m, m.collect()
}

// dialogLines draws the open dialog or form in the detail pane's place.
func (m Model) dialogLines(h int) []string {
	st := m.styles
	var lines []string
	switch {
	case m.dialog != nil:
		lines = append(lines, st.DetailTitle.Render(m.dialog.title))
		for _, l := range m.dialog.lines {
			style := st.Header
			if strings.HasPrefix(l, "!!!") {
				style = st.Unexpected
			}
			lines = append(lines, "  "+style.Render(l))
		}
		lines = append(lines, "")
		if m.dialog.typePID != "" {
			lines = append(lines, "  "+m.dialog.input.View())
		} else {
			lines = append(lines, "  "+st.DetailLabel.Render("y")+" yes · any other key: no (the default)")
		}
	case m.form != nil:
		lines = append(lines, st.DetailTitle.Render("Mark "+m.form.entry.Key()+" as expected"),
			"  It goes into the baseline with today's date; check will stop reporting it.", "",
			"  "+m.form.inputs[0].View(), "  "+m.form.inputs[1].View())
	}
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], m.width)
		}
	}
	if len(lines) > h {
		out[h-1] = fit(lines[len(lines)-1], m.width) // the prompt stays visible
	}
	return out
}

// statusTTL is how long an action's result stays in the status line.
const statusTTL = 10 * time.Second
