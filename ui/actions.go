package ui

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// Messages of the actions.
type (
	killPlanMsg    struct{ plan *app.KillPlan }
	disablePlanMsg struct {
		what   string // "tcp 127.0.0.1:8080"
		target string // the same as portwarden disable takes it
		plan   *app.DisablePlan
		err    error
	}
	actionDoneMsg struct {
		text string
		err  error
		// stillRunning is set after a TERM the process survived.
		stillRunning bool
	}
)

// statusTTL is how long an action's result stays in the status line.
const statusTTL = 10 * time.Second

// open gives the lower pane to a dialog or form and focuses it.
func (m *Model) open(c closer, init tea.Cmd) tea.Cmd {
	m.focused = c
	m.resizeTables()
	c.SetSize(m.width, m.detailHeight())
	return init
}

// startMark opens the mark form for the selected listener.
func (m *Model) startMark() tea.Cmd {
	s, _ := m.selectedSocket()
	if s == nil || !s.Listening() {
		m.setStatus("mark works on listeners: select one in the Listeners view", true)
		return nil
	}
	e := baseline.EntryFor(s)
	e.Container = verdict.Where(m.frame.Containers, s).Container
	e.Added = m.cfg.Now()
	b := m.backend
	f := newMarkForm(m.styles, e, m.cfg.Admin, func(e baseline.Entry) tea.Cmd {
		return func() tea.Msg {
			if err := b.Mark(e); err != nil {
				return actionDoneMsg{err: fmt.Errorf("mark %s: %w", e.Key(), err)}
			}
			return actionDoneMsg{text: "marked " + e.Key() + " as expected"}
		}
	})
	return m.open(f, f.Init())
}

// startUnmark asks before removing the selected row's baseline entry.
func (m *Model) startUnmark() tea.Cmd {
	_, v := m.selectedSocket()
	if v == nil || v.Baseline == nil {
		m.setStatus("this row is not in the baseline", true)
		return nil
	}
	e, b := *v.Baseline, m.backend
	lines := []string{"entry   " + safetext.Visible(e.Key()),
		safetext.Visible(fmt.Sprintf("reason  %q, owner %s, added %s", e.Reason, e.Owner, e.Added.Format("2006-01-02"))),
		"It will show as UNEXPECTED again."}
	d := newDialog(m.styles, "Remove this listener from the baseline?", lines, "", "", func() tea.Msg {
		if err := b.Unmark(e); err != nil {
			return actionDoneMsg{err: fmt.Errorf("unmark %s: %w", e.Key(), err)}
		}
		return actionDoneMsg{text: "removed " + e.Key() + " from the baseline"}
	})
	return m.open(d, d.Init())
}

// startKill plans, in a command, the kill of the selected process against
// the snapshot on screen; the dialog opens when the plan arrives.
func (m *Model) startKill(sig syscall.Signal) tea.Cmd {
	p := m.selectedProcess()
	if p == nil {
		m.setStatus("no process to kill on this row", true)
		return nil
	}
	t, snap, b := action.TargetOf(p), m.frame.Snapshot, m.backend
	return func() tea.Msg { return killPlanMsg{plan: b.PlanKill(snap, t, sig)} }
}

func (m *Model) onKillPlan(msg killPlanMsg) tea.Cmd {
	p, b := msg.plan, m.backend
	t := p.Target
	if p.Refused != nil {
		// Refused outright: no dialog; Kill records the refusal.
		return func() tea.Msg {
			_, err := b.Kill(p, false)
			return actionDoneMsg{err: fmt.Errorf("kill %s: %w", safetext.Visible(t.String()), err)}
		}
	}
	name := "SIGTERM (ask it to stop)"
	if p.Signal == syscall.SIGKILL {
		name = "SIGKILL (stop it at once, no clean-up)"
	}
	lines := []string{
		"signal   " + name,
		"process  " + safetext.Visible(t.String()),
		"exe      " + orUnknown(safetext.Visible(t.Exe)),
		"command  " + orUnknown(safetext.Visible(strings.Join(t.Cmdline, " "))),
	}
	if c := p.Container; c != nil {
		lines = append(lines, fmt.Sprintf("container %s (%s %s, image %s, restart policy %s)", safetext.Visible(c.Label()), c.Runtime, c.Short(),
			orUnknown(safetext.Visible(c.Image)), orUnknown(c.Restart)))
	}
	lines = append(lines, holdingLines(p.Holding)...)
	if p.ComesBack != "" {
		lines = append(lines, "note     "+safetext.Visible(p.ComesBack))
	}
	typePID := ""
	if p.Danger != "" {
		lines = append(lines, "", "!!! "+p.Danger)
		typePID = strconv.Itoa(t.PID)
	}
	d := newDialog(m.styles, "Kill this process?", lines, typePID, "type the PID to confirm: ", func() tea.Msg {
		ended, err := b.Kill(p, p.Danger != "") // a danger got here only with its PID typed
		switch {
		case err != nil:
			return actionDoneMsg{err: fmt.Errorf("kill %s: %w", safetext.Visible(t.String()), err)}
		case !ended:
			return actionDoneMsg{text: safetext.Visible(t.String()) + " is still running: press K to send SIGKILL", stillRunning: true}
		}
		return actionDoneMsg{text: safetext.Visible(t.String()) + " has ended"}
	})
	return m.open(d, d.Init())
}

// holdingLines lists the sockets a process holds, at most six, and how
// many other processes share them.
func holdingLines(h sockets.Holding) []string {
	var lines []string
	for i, s := range h.Sockets {
		if i == 6 {
			lines = append(lines, fmt.Sprintf("holds    and %d more sockets", len(h.Sockets)-6))
			break
		}
		lines = append(lines, "holds    "+s.Proto.String()+" "+s.Local.String()+" "+s.StateName())
	}
	if n := len(h.Sharers); n > 0 {
		lines = append(lines, fmt.Sprintf("shared   %d other processes hold these sockets too and keep them open", n))
	}
	return lines
}

// startDisable plans, in a command, how to disable the service behind the
// selected socket; the dialog shows the exact steps.
func (m *Model) startDisable() tea.Cmd {
	s, _ := m.selectedSocket()
	if s == nil {
		m.setStatus("disable works on a socket: select its row", true)
		return nil
	}
	b, containers := m.backend, m.frame.Containers
	what := s.Proto.String() + " " + s.Local.String()
	target := s.Proto.String() + "/" + s.Local.String()
	return func() tea.Msg {
		p, err := b.PlanDisable(containers, []*sockets.Socket{s}, disable.Disable)
		return disablePlanMsg{what: what, target: target, plan: p, err: err}
	}
}

func (m *Model) onDisablePlan(msg disablePlanMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus("disable "+msg.what+": "+msg.err.Error(), true)
		return nil
	}
	p, b := msg.plan, m.backend
	var lines, names []string
	for _, s := range p.Services {
		names = append(names, safetext.Visible(s.String()))
		lines = append(lines, "service  "+safetext.Visible(s.String()), "steps")
		for i, step := range s.Steps {
			lines = append(lines, fmt.Sprintf("  %d. %s", i+1, safetext.Visible(step.Describe)))
		}
		if s.Note != "" {
			lines = append(lines, "note     "+safetext.Visible(s.Note))
		}
		if s.Manager == "systemd" {
			lines = append(lines, "", "To keep it from being started even by hand or by other units, mask it:",
				"portwarden disable --mask "+msg.target)
		}
	}
	typePID, prompt := "", ""
	if len(p.Dangers) > 0 {
		for _, d := range p.Dangers {
			lines = append(lines, "", "!!! "+safetext.Visible(d))
		}
		holder := p.Services[0].Holder
		typePID = strconv.Itoa(holder.PID)
		prompt = "type the PID " + typePID + " (" + safetext.Visible(holder.Name) + ") to confirm: "
	}
	done := "disabled " + strings.Join(names, ", ")
	d := newDialog(m.styles, "Disable the service behind "+msg.what+"?", lines, typePID, prompt, func() tea.Msg {
		if err := b.Disable(p, len(p.Dangers) > 0); err != nil {
			return actionDoneMsg{err: err}
		}
		return actionDoneMsg{text: done}
	})
	return m.open(d, d.Init())
}

// onFocused forwards a message to the open dialog or form, and closes it
// when it is done: the status says how, and a yes runs its action.
func (m *Model) onFocused(msg tea.Msg) tea.Cmd {
	cmd := m.focused.Update(msg)
	o, done := m.focused.closed()
	if !done {
		return cmd
	}
	m.focused = nil
	m.resizeTables()
	m.setStatus(o.status, o.isErr)
	return o.action
}

// onActionDone shows the result and refreshes, so the next frame proves it.
func (m *Model) onActionDone(msg actionDoneMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus(msg.err.Error(), true)
	} else {
		m.setStatus(msg.text, msg.stillRunning)
	}
	if m.inflight {
		return nil
	}
	return m.collect()
}

// setStatus shows a message in the status line for statusTTL.
func (m *Model) setStatus(text string, isErr bool) {
	m.status, m.statusErr, m.statusAt = text, isErr, m.cfg.Now()
}
