package ui

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/peers"
	"github.com/portwarden/portwarden/services/traffic"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// The Peers view: every remote address, the one that tried most first —
// who is this, what have they tried, are they already stopped.

var peerColumns = []column{
	{title: "", min: 1, ideal: 1, priority: 100},
	{title: "PEER", min: 15, ideal: 24, priority: 98, compare: byRemote, shorten: shortenAddr},
	{title: "NAME", min: 6, ideal: 24, priority: 40, compare: byService},
	{title: "AS", min: 6, ideal: 22, priority: 45, compare: byUser},
	{title: "CC", min: 2, ideal: 2, priority: 50, compare: byWhere},
	{title: "OPEN", min: 4, ideal: 4, priority: 80, compare: byPID},
	{title: "PRE", min: 3, ideal: 3, priority: 75},
	{title: "SCANNED", min: 7, ideal: 11, priority: 90},
	{title: "FAILED", min: 6, ideal: 6, priority: 88},
	{title: "BANNED", min: 6, ideal: 10, priority: 85, compare: byState},
	{title: "LAST", min: 8, ideal: 8, priority: 60, compare: byWhen},
	{title: "RX/s", min: 6, ideal: 6, priority: 44, compare: byRx, from: 140},
	{title: "TX/s", min: 6, ideal: 6, priority: 45, compare: byTx, from: 140},
	{title: "TRIED", min: 8, ideal: 8, priority: 96, compare: byCount},
}

// peerWords say in the TRIED column what the row's colour says.
func peerWord(p *peers.Peer) (string, verdict.Class) {
	switch {
	case p.Tried() > 0 && !p.Banned():
		return "TRYING", verdict.ClassUnexpected
	case p.Tried() > 0:
		return "banned", verdict.ClassRisky
	case p.Class == verdict.PeerExternal:
		return "EXTERNAL", verdict.ClassExternal
	}
	return "-", verdict.ClassPlain
}

// peerRows is a row per peer, with the rates of its connections now.
func peerRows(v *app.PeersView, now time.Time, t *traffic.View) []*row {
	if v == nil {
		return nil
	}
	rates := t.ByPeer()
	rows := make([]*row, 0, len(v.Peers))
	for i := range v.Peers {
		p := &v.Peers[i]
		word, class := peerWord(p)
		cells := append([]string{""}, report.PeerRow(p, now)...)
		// PEER NAME AS CC OPEN PREAUTH SCANNED FAILED BANNED LAST, the
		// rates, then the word
		rate := rates[p.Addr.Unmap()]
		rx, tx := sumRates(rate)
		if p.Open == 0 {
			rx, tx = "-", "-"
		}
		cells = append(cells, rx, tx, word)
		r := &row{
			key:   rowKey{peer: p.Addr},
			cells: cells,
			class: class,
			sortKeys: sortKeys{remote: netip.AddrPortFrom(p.Addr, 0), service: cells[2], user: cells[3], where: cells[4],
				pid: p.Open, state: cells[9], when: p.Last.UnixNano(), count: p.Tried(), rate: rate},
		}
		r.sig = strings.Join(r.cells, "\x00")
		r.search = strings.ToLower(strings.Join(r.cells[1:], " ") + " " + string(p.Class))
		rows = append(rows, r)
	}
	return rows
}

// peersEmpty says why the Peers view has no rows.
func peersEmpty(v *app.PeersView) string {
	if v == nil {
		return "reading peers…"
	}
	return "no peer: no connection open now, none recorded, no scan, no failed login (w lists what could not be read)"
}

// selectedPeer returns the peer under the cursor in the Peers view.
func (m *Model) selectedPeer() *peers.Peer {
	r := m.table().selected()
	if m.view != viewPeers || m.frame == nil || m.frame.Peers == nil || r == nil {
		return nil
	}
	for i := range m.frame.Peers.Peers {
		if p := &m.frame.Peers.Peers[i]; p.Addr == r.key.peer {
			return p
		}
	}
	return nil
}

// describePeer tells a peer's story.
func (m *Model) describePeer(d *detailWriter, p *peers.Peer) {
	title := p.Addr.String()
	if p.Name.Host != "" {
		title += " (" + safetext.Visible(p.Name.Host) + ")"
	}
	word, _ := peerWord(p)
	d.title(title + " · " + word)
	who := []string{string(p.Class) + " address"}
	if p.Place.ASN != 0 {
		who = append(who, fmt.Sprintf("AS%d %s", p.Place.ASN, safetext.Visible(p.Place.ASName)))
	}
	if p.Place.Country != "" {
		who = append(who, "in "+p.Place.Country)
	}
	switch {
	case p.Name.Pending:
		who = append(who, "reverse name: asking…")
	case p.Name.Failed:
		who = append(who, "no reverse name")
	}
	d.field("Who", strings.Join(who, " · "))
	d.field("Tried", fmt.Sprintf("%d (closed ports probed, failed logins, SSH connections held without logging in)", p.Tried()))
	if r := m.frame.Traffic.ByPeer()[p.Addr.Unmap()]; !r.IsZero() {
		d.field("Now", traffic.Bytes(r.Rx)+"/s in, "+traffic.Bytes(r.Tx)+"/s out over its open connections")
	}
	if p.Counted > 0 {
		d.field("Carried", fmt.Sprintf("%s in, %s out over %d recorded connection(s) that ended (as the kernel counted them)",
			traffic.Bytes(float64(p.Carried.Rx)), traffic.Bytes(float64(p.Carried.Tx)), p.Counted))
	}
	now := m.cfg.Now()
	for _, e := range p.Story(now) {
		when := "now"
		if !e.Time.IsZero() {
			when = e.Time.Local().Format("15:04:05")
		}
		d.field(when, safetext.Visible(e.Text))
	}
	if !p.Banned() && p.Open > 0 {
		d.field("Act", "b blocks this address (its open connections too); x closes its open connections")
	} else if !p.Banned() {
		d.field("Act", "b blocks this address")
	}
	if v := m.frame.Peers; v != nil && len(v.Warnings) > 0 {
		d.field("Unknown", safetext.Visible(strings.Join(v.Warnings, "; ")))
	}
}

// startBlockPeer plans, in a command, blocking the selected peer.
func (m *Model) startBlockPeer() tea.Cmd {
	p := m.selectedPeer()
	if p == nil || p.Class == verdict.PeerLoopback {
		m.setStatus("block works on a peer of another host: select one in the Peers view", true)
		return nil
	}
	blk := block.Block{Peer: netip.PrefixFrom(p.Addr, p.Addr.BitLen()), For: 10 * time.Minute}
	snap, b := m.frame.Snapshot, m.backend
	return func() tea.Msg { return blockPlanMsg{snap: snap, plan: b.PlanBlock(snap, blk)} }
}

// startClosePeer plans, in a command, cutting every open connection of
// the selected peer.
func (m *Model) startClosePeer() tea.Cmd {
	p := m.selectedPeer()
	if p == nil {
		return nil
	}
	var socks []*sockets.Socket
	for _, j := range m.frame.Judged {
		if s := j.Socket; !s.Listening() && s.Remote.Port() != 0 && s.Remote.Addr().Unmap() == p.Addr {
			socks = append(socks, s)
		}
	}
	if len(socks) == 0 {
		m.setStatus("no open connection with "+p.Addr.String()+" to close", true)
		return nil
	}
	snap, b := m.frame.Snapshot, m.backend
	return func() tea.Msg { return closePlanMsg{snap: snap, plan: b.PlanClose(snap, socks)} }
}

// onClosePeerPlan confirms cutting several connections of one peer.
func (m *Model) onClosePeerPlan(msg closePlanMsg) tea.Cmd {
	p, b, snap := msg.plan, m.backend, msg.snap
	peer := p.Connections[0].Remote.Addr().Unmap().String()
	if p.Refused != nil {
		return func() tea.Msg {
			_, err := b.Close(snap, p, false)
			return actionDoneMsg{err: fmt.Errorf("close %s's connections: %w", peer, err)}
		}
	}
	lines := []string{fmt.Sprintf("%d connections with %s:", len(p.Connections), peer)}
	for i, s := range p.Connections {
		if i == 5 {
			lines = append(lines, fmt.Sprintf("  … and %d more", len(p.Connections)-5))
			break
		}
		lines = append(lines, "  "+s.Proto.String()+" "+app.ConnectionID(s)+" "+s.StateName()+" · "+heldBy(s))
	}
	lines = append(lines, "The processes keep running: each gets an error on these connections only, and a TCP peer a reset.",
		"To keep the peer from coming back, block it (b).")
	typed, prompt := "", ""
	if len(p.Dangers) > 0 {
		typed = peer
		lines = append(lines, dangerLines(p.Dangers)...)
		prompt = "type the peer's address " + typed + " to confirm: "
	}
	d := newDialog(m.styles, "Close these connections?", lines, typed, prompt, func() tea.Msg {
		n, err := b.Close(snap, p, len(p.Dangers) > 0)
		if err != nil {
			return actionDoneMsg{err: fmt.Errorf("close %s's connections: %w", peer, err)}
		}
		return actionDoneMsg{text: fmt.Sprintf("closed %d connections with %s", n, peer)}
	})
	return m.open(d, d.Init())
}
