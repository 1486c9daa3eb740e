package ui

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/portwarden/portwarden/services/block"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

// Messages of close and block.
type (
	closePlanMsg struct {
		snap *sockets.Snapshot
		plan *app.ClosePlan
	}
	blockPlanMsg struct {
		snap *sockets.Snapshot
		plan *app.BlockPlan
	}
)

// startClose plans, in a command, cutting the selected connection.
func (m *Model) startClose() tea.Cmd {
	if m.view == viewPeers {
		return m.startClosePeer()
	}
	s, _ := m.selectedSocket()
	if s == nil || s.Listening() || s.Remote.Port() == 0 {
		m.setStatus("close works on a connection: select one in the Connections view", true)
		return nil
	}
	snap, b, socks := m.frame.Snapshot, m.backend, []*sockets.Socket{s}
	return func() tea.Msg { return closePlanMsg{snap: snap, plan: b.PlanClose(snap, socks)} }
}

func (m *Model) onClosePlan(msg closePlanMsg) tea.Cmd {
	p, b, snap := msg.plan, m.backend, msg.snap
	s := p.Connections[0]
	id := app.ConnectionID(s)
	if n := len(p.Connections); n > 1 {
		return m.onClosePeerPlan(msg)
	}
	if p.Refused != nil {
		return func() tea.Msg {
			_, err := b.Close(snap, p, false)
			return actionDoneMsg{err: fmt.Errorf("close %s: %w", id, err)}
		}
	}
	lines := []string{
		"connection  " + s.Proto.String() + " " + id + " " + s.StateName(),
		"held by     " + heldBy(s),
		"The process keeps running: it gets an error on this connection only, and a TCP peer a reset.",
		"To keep the peer from coming back, block it (b).",
	}
	typed, prompt := "", ""
	if len(p.Dangers) > 0 {
		typed = strconv.Itoa(int(s.Remote.Port()))
		lines = append(lines, dangerLines(p.Dangers)...)
		prompt = "type the peer's port " + typed + " to confirm: "
	}
	d := newDialog(m.styles, "Close this connection?", lines, typed, prompt, func() tea.Msg {
		if _, err := b.Close(snap, p, len(p.Dangers) > 0); err != nil {
			return actionDoneMsg{err: fmt.Errorf("close %s: %w", id, err)}
		}
		return actionDoneMsg{text: "closed " + id}
	})
	return m.open(d, d.Init())
}

// dangerLines sets a plan's dangers apart, each behind "!!!".
func dangerLines(dangers []string) []string {
	lines := []string{""}
	for _, d := range dangers {
		lines = append(lines, "!!! "+safetext.Visible(d))
	}
	return lines
}

// heldBy names the processes holding a socket, made safe.
func heldBy(s *sockets.Socket) string {
	if len(s.Processes) == 0 {
		return "no process"
	}
	out := ""
	for i, p := range s.Processes {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s (pid %d)", safetext.Visible(p.Name), p.PID)
	}
	return out
}

// startBlock plans, in a command, blocking the selected connection's
// external peer.
func (m *Model) startBlock() tea.Cmd {
	if m.view == viewPeers {
		return m.startBlockPeer()
	}
	s, v := m.selectedSocket()
	if s == nil || s.Listening() || v == nil || !v.External {
		m.setStatus("block works on a connection with an external peer: select one in the Connections view", true)
		return nil
	}
	addr := s.Remote.Addr().WithZone("").Unmap()
	blk := block.Block{Peer: netip.PrefixFrom(addr, addr.BitLen()), For: 10 * time.Minute}
	snap, b := m.frame.Snapshot, m.backend
	return func() tea.Msg { return blockPlanMsg{snap: snap, plan: b.PlanBlock(snap, blk)} }
}

func (m *Model) onBlockPlan(msg blockPlanMsg) tea.Cmd {
	p, b, snap := msg.plan, m.backend, msg.snap
	peer := block.PeerString(p.Block.Peer)
	if p.Refused != nil {
		return func() tea.Msg { return actionDoneMsg{err: fmt.Errorf("block %s: %w", peer, b.Block(p, false))} }
	}
	lines := []string{
		"peer     " + peer + ": its new and open connections are dropped, here and to the containers behind this host",
		"where    nftables table inet portwarden (your own tables are not touched); the block ends by itself",
	}
	for i, s := range p.Connections {
		if i == 4 {
			lines = append(lines, fmt.Sprintf("open     and %d more", len(p.Connections)-4))
			break
		}
		lines = append(lines, "open     "+s.Proto.String()+" "+app.ConnectionID(s)+" held by "+heldBy(s))
	}
	if len(p.Dangers) > 0 {
		// Dangerous: only the shortest block, with the address typed.
		lines = append(append(lines, dangerLines(p.Dangers)...), "Blocking it anyway holds for 10 minutes.")
		d := newDialog(m.styles, "Block "+peer+"?", lines, peer, "type the address "+peer+" to confirm: ", blockAction(b, snap, *p, 10*time.Minute, false, true))
		return m.open(d, d.Init())
	}
	c := newBlockDialog(m.styles, "Block "+peer+"?", lines, len(p.Connections), func(d time.Duration, closeToo bool) tea.Cmd {
		return blockAction(b, snap, *p, d, closeToo, false)
	})
	return m.open(c, nil)
}

// blockAction blocks the planned peer for d (0: until unblocked) and,
// when asked, closes its open connections in the same step.
func blockAction(b Backend, snap *sockets.Snapshot, p app.BlockPlan, d time.Duration, closeToo, forced bool) tea.Cmd {
	p.Block.For = d
	return func() tea.Msg {
		if err := b.Block(&p, forced); err != nil {
			return actionDoneMsg{err: fmt.Errorf("block %s: %w", p.Block, err)}
		}
		text := "blocked " + p.Block.String() + " " + p.Block.Until()
		if p.Block.For == 0 {
			text = "blocked " + p.Block.String() + " until unblocked (portwarden unblock " + block.PeerString(p.Block.Peer) + ")"
		}
		if closeToo && len(p.Connections) > 0 {
			n, err := b.Close(snap, b.PlanClose(snap, p.Connections), forced)
			if err != nil {
				return actionDoneMsg{err: fmt.Errorf("%s, but close: %w", text, err)}
			}
			text += fmt.Sprintf("; closed %d connections", n)
		}
		return actionDoneMsg{text: text}
	}
}

// blockDialog offers how long to block: 1 for 10 minutes, 2 for an hour,
// 3 until unblocked; c toggles closing the open connections too. Any
// other key is no.
type blockDialog struct {
	blockKeyMap
	title  string
	lines  []string
	open   int // open connections with the peer
	close  bool
	choose func(d time.Duration, closeToo bool) tea.Cmd
	styles Styles
	width  int
	height int
	closing
}

type blockKeyMap struct{ TenMinutes, Hour, Forever, ToggleClose, No key.Binding }

func newBlockDialog(st Styles, title string, lines []string, open int, choose func(time.Duration, bool) tea.Cmd) *blockDialog {
	return &blockDialog{title: title, lines: lines, open: open, close: open > 0, choose: choose, styles: st,
		blockKeyMap: blockKeyMap{
			TenMinutes:  key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "10 minutes")),
			Hour:        key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "1 hour")),
			Forever:     key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "until unblocked")),
			ToggleClose: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "also close open connections")),
			No:          key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/any key", "no")),
		}}
}

func (k blockKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.TenMinutes, k.Hour, k.Forever, k.ToggleClose, k.No}
}
func (k blockKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

func (d *blockDialog) SetSize(width, height int) { d.width, d.height = width, height }

func (d *blockDialog) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	var length time.Duration
	switch {
	case key.Matches(k, d.ToggleClose) && d.open > 0:
		d.close = !d.close
		return nil
	case key.Matches(k, d.TenMinutes):
		length = 10 * time.Minute
	case key.Matches(k, d.Hour):
		length = time.Hour
	case key.Matches(k, d.Forever):
	default:
		d.closing.close(outcome{status: "cancelled: nothing was done"})
		return nil
	}
	d.closing.close(outcome{status: "working…", action: d.choose(length, d.close)})
	return nil
}

func (d *blockDialog) View() []string {
	st := d.styles
	var choices []string
	if d.open > 0 {
		box := "[ ]"
		if d.close {
			box = "[x]"
		}
		choices = append(choices, fmt.Sprintf("  %s also close the %d open connections now (c toggles)", box, d.open))
	}
	choices = append(choices, "  "+st.DetailLabel.Render("1")+" for 10 minutes · "+st.DetailLabel.Render("2")+" for 1 hour · "+
		st.DetailLabel.Render("3")+" until unblocked · any other key: no (the default)")
	return fitChoices(questionLines(st, d.title, d.lines), choices, d.width, d.height)
}
