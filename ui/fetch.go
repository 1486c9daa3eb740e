package ui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

// fetchDetail asks the backend about the selected row's process and port
// when the detail pane is open and does not know them yet.
func (m *Model) fetchDetail() tea.Cmd {
	if !m.detailOpen {
		return nil
	}
	p := m.selectedProcess()
	s, _ := m.selectedSocket()
	var port uint16
	if s != nil {
		port = s.Local.Port()
	}
	if p == nil && port == 0 {
		return nil
	}
	var msg detailMsg
	var proc sockets.Process
	if p != nil {
		if _, ok := m.origins[procKey{p.PID, p.StartTicks}]; !ok {
			proc, msg.proc = *p, procKey{p.PID, p.StartTicks}
		}
	}
	if _, ok := m.portClasses[port]; !ok {
		msg.port = port
	}
	// A listener systemd itself holds is socket activation: ask which unit.
	var sock *sockets.Socket
	if s != nil && s.Listening() && heldBySystemd(s) {
		if _, ok := m.socketUnits[s.ID()]; !ok {
			sock, msg.sock = s, s.ID()
		}
	}
	// Since when the recorder has seen it, where one records; asked
	// again at each refresh until the record has it.
	var seen *sockets.Socket
	if s != nil && m.recording() {
		if _, ok := m.firstSeen[s.ID()]; !ok {
			seen, msg.seen = s, s.ID()
		}
	}
	if proc.PID == 0 && msg.port == 0 && msg.sock == (sockets.ID{}) && seen == nil {
		return nil
	}
	b := m.backend
	return func() tea.Msg {
		if proc.PID != 0 {
			info := b.Origin(&proc)
			msg.origin = &info
		}
		if msg.port != 0 {
			msg.portClass = b.ExplainPort(msg.port)
		}
		if msg.sock != (sockets.ID{}) {
			msg.socketUnits = append([]string{}, b.SocketUnits(sock)...)
		}
		if seen != nil {
			msg.firstSeen, _ = b.FirstSeen(seen)
		}
		return msg
	}
}

// heldBySystemd reports whether systemd (PID 1 of its namespace) holds s.
func heldBySystemd(s *sockets.Socket) bool {
	for _, p := range s.Processes {
		if p.PID == 1 && p.Name == "systemd" {
			return true
		}
	}
	return false
}

// where names the container or network namespace a socket lives in, made
// safe: a container's name comes from whoever started it.
func (m *Model) where(s *sockets.Socket) string {
	if c := m.frame.Containers.Of(s); c != nil {
		return safetext.Visible(c.Label())
	}
	n := m.frame.Snapshot.Namespace(s.NetNS)
	if n == nil {
		return "host" // a snapshot that names no namespace: the host's, read plainly
	}
	return safetext.Visible(n.Label())
}

// recording reports whether the flight recorder's record is read and
// there.
func (m *Model) recording() bool {
	return m.frame.Recording
}
