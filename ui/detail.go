package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// labelWidth is the width of the detail pane's labels.
const labelWidth = 12

// detailText explains the selected row.
func (m *Model) detailText() []string {
	if !m.loaded {
		return nil
	}
	d := &detailWriter{width: m.width, st: m.styles}
	r := m.table().selected()
	switch {
	case r == nil:
		d.plain("Nothing selected.")
	case r.status == statusGone:
		d.plain("This row vanished at the last refresh: the socket or process no longer exists.")
	case m.view == viewContainers:
		m.describeContainer(d, r.key.ctr)
	case m.view == viewHistory && m.selectedGroup() != nil:
		m.describeGroup(d, m.selectedGroup())
	case m.view == viewHistory:
		m.describeLifetime(d, r)
	case m.view == viewPeers:
		if p := m.selectedPeer(); p != nil {
			m.describePeer(d, p)
		}
	case m.view == viewRaw:
		if j := m.selectedRaw(); j != nil {
			m.describeRaw(d, j)
		} else if j := m.selectedProgram(); j != nil {
			m.describeProgram(d, j)
		}
	case m.view == viewProcesses:
		if p := m.selectedProcess(); p != nil {
			m.describeProcess(d, p, nil)
		}
	default:
		s, v := m.selectedSocket()
		if s != nil {
			m.describeSocket(d, s, v)
		}
	}
	return d.lines
}

func (m *Model) describeSocket(d *detailWriter, s *sockets.Socket, v *verdict.Verdict) {
	title := s.Proto.String() + " " + s.Local.String()
	if !s.Listening() {
		title += " ↔ " + s.Remote.String()
	}
	if v.Service != "" {
		title += " · " + v.Service
	}
	d.title(title + " · " + v.Label() + " · risk " + v.Risk.String())
	if k := v.Known; k != nil {
		d.field("What", k.What)
		d.field("Why", k.Why)
		d.field("Usually", k.StartedBy)
	} else if v.Service != "" {
		d.field("What", "Registered as "+v.Service+" in /etc/services; portwarden has no notes on it.")
	} else {
		d.field("What", "An unregistered port: nothing in the catalog says what usually listens here. The process below tells.")
	}
	m.describeWhere(d, s)
	if s.Listening() {
		d.field("Bind", verdict.ExplainExposure(s, v))
		if r := verdict.ExplainReach(s, v); r != "" {
			d.field("Reach", r)
		}
	} else {
		d.field("Peer", verdict.ExplainPeer(v))
		switch v.Direction {
		case verdict.DirectionInbound:
			d.field("Direction", "Inbound: the peer connected to one of this host's listening ports.")
		case verdict.DirectionOutbound:
			d.field("Direction", "Outbound: a process on this host connected out to the peer.")
		}
	}
	port := s.Local.Port()
	if class := m.portClasses[port]; class != "" && v.Direction != verdict.DirectionOutbound {
		d.field("Port", strconv.Itoa(int(port))+" is "+class+".")
	}
	if len(v.Reasons) > 0 {
		d.field("Verdict", strings.Join(v.Reasons, "; "))
	}
	describeSigns(d, s, v)
	if m.recording() {
		if at, ok := m.firstSeen[s.ID()]; ok {
			d.field("Recorded", "open since "+at.Local().Format("2006-01-02 15:04:05")+" ("+shortDuration(m.cfg.Now().Sub(at))+" ago), as the flight recorder first saw it")
		} else {
			d.field("Recorded", "not in the flight recorder's record yet (it began before the recorder, or the record has not caught up)")
		}
	}
	switch {
	case v.Baseline != nil:
		e := v.Baseline
		d.field("Baseline", fmt.Sprintf("expected: %q, owner %s, added %s (entry %s)", e.Reason, e.Owner, e.Added.Format("2006-01-02"), e.Key()))
	case s.Listening():
		d.field("Baseline", fmt.Sprintf("not covered. If it belongs here, document it: portwarden baseline add --reason \"…\" %s/%d", s.Proto, port))
	}
	if k := v.Known; k != nil {
		d.field("Source", k.Source)
	}
	switch len(s.Processes) {
	case 0:
		if s.Inode == 0 {
			d.field("Process", "none: no file refers to this socket (TIME_WAIT, or a connection not yet accepted).")
		} else if !m.frame.Snapshot.Complete {
			d.field("Process", "unknown: its owner's open files could not be read. Run portwarden as root to see it.")
		} else {
			d.field("Process", "none: a kernel socket (NFS, VXLAN, WireGuard…) with no process behind it.")
		}
	default:
		for _, p := range s.Processes {
			m.describeProcess(d, p, s)
		}
	}
}

// describeSigns explains each sign of a rogue process on the socket's
// processes: what was seen, what it means, what to check next.
func describeSigns(d *detailWriter, s *sockets.Socket, v *verdict.Verdict) {
	for i, found := range v.Signs {
		for _, sg := range found {
			d.field("!! Sign", fmt.Sprintf("%s (%s) on %s pid %d: %s", sg.Code, sg.Risk, safetext.Visible(s.Processes[i].Name), s.Processes[i].PID, safetext.Visible(sg.Detail)))
			d.field("Means", sg.Code.Means())
			d.field("Check", sg.Code.Checks())
		}
	}
}

// describeProcess explains who owns a socket and how it was started, and
// lists its other sockets (all of them when self is nil).
func (m *Model) describeProcess(d *detailWriter, p *sockets.Process, self *sockets.Socket) {
	d.title(fmt.Sprintf("Process %s (pid %d) · user %s", safetext.Visible(p.Name), p.PID, safetext.Visible(p.User)))
	d.field("Exe", orUnknown(p.Exe))
	d.field("Command", orUnknown(strings.Join(p.Cmdline, " ")))
	if !p.Start.IsZero() {
		d.field("Started", p.Start.Format("2006-01-02 15:04:05")+" ("+ago(m.cfg.Now().Sub(p.Start))+" ago)")
	}
	if info, ok := m.origins[procKey{p.PID, p.StartTicks}]; ok {
		var chain []string
		for _, a := range info.Parents {
			chain = append(chain, fmt.Sprintf("%s (%d)", a.Name, a.PID))
		}
		if len(chain) > 0 {
			d.field("Parents", strings.Join(chain, " ← "))
		}
		switch {
		case info.Unit != "":
			d.field("Started by", "systemd unit "+info.Unit)
		case info.Inetd != "":
			d.field("Started by", "the super-server "+info.Inetd+", which starts it for each connection")
		default:
			d.field("Started by", "not a systemd unit or inetd service as far as portwarden can tell; see the parents")
		}
	} else {
		d.field("Parents", "…")
	}
	if self != nil && heldBySystemd(self) {
		switch units, ok := m.socketUnits[self.ID()]; {
		case !ok:
			d.field("Socket unit", "…")
		case len(units) > 0:
			d.field("Socket unit", strings.Join(units, " ")+": systemd listens here itself and starts the service on the first connection (socket activation). To turn it off, stop and disable the socket unit (d).")
		}
	}
	var others []string
	total := 0
	for _, s := range m.frame.Snapshot.HeldBy(p.PID).Sockets {
		if s == self {
			continue
		}
		total++
		if len(others) < 8 {
			others = append(others, s.Proto.String()+" "+s.Local.String()+" "+s.StateName())
		}
	}
	if total > len(others) {
		others = append(others, fmt.Sprintf("and %d more", total-len(others)))
	}
	label := "Other socks"
	if self == nil {
		label = "Sockets"
	}
	if len(others) == 0 {
		others = []string{"none"}
	}
	d.field(label, strings.Join(others, " · "))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown (not readable without root, or a kernel thread)"
	}
	return s
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// detailWriter lays out titled sections of label: value lines, wrapped.
type detailWriter struct {
	width int
	st    Styles
	lines []string
}

func (d *detailWriter) title(s string) {
	if len(d.lines) > 0 {
		d.lines = append(d.lines, "")
	}
	d.lines = append(d.lines, d.st.DetailTitle.Render(safetext.Visible(s)))
}

func (d *detailWriter) plain(s string) {
	d.lines = append(d.lines, strings.Split(ansi.Wordwrap(s, max(10, d.width-1), ""), "\n")...)
}

// field writes "Label       value", the value wrapped under itself.
func (d *detailWriter) field(label, value string) {
	value = safetext.Visible(value)
	w := max(10, d.width-labelWidth-3)
	wrapped := strings.Split(ansi.Wrap(value, w, ""), "\n")
	pad := strings.Repeat(" ", labelWidth+2)
	for i, l := range wrapped {
		if i == 0 {
			d.lines = append(d.lines, "  "+d.st.DetailLabel.Render(fmt.Sprintf("%-*s", labelWidth, label))+l)
		} else {
			d.lines = append(d.lines, pad+l)
		}
	}
}

// describeWhere names the container or network namespace a socket lives
// in, and where a host listener held for a container forwards.
func (m *Model) describeWhere(d *detailWriter, s *sockets.Socket) {
	x := m.frame.Containers
	if c := x.Of(s); c != nil {
		text := fmt.Sprintf("container %s (%s %s)", c.Label(), c.Runtime, c.Short())
		if c.Image != "" {
			text += ", image " + c.Image
		}
		if c.Pod != "" {
			text += ", pod " + c.Pod + " in Kubernetes namespace " + c.Namespace
		}
		if c.Restart != "" {
			text += ", restart policy " + c.Restart
		}
		if x.Inside(s) != nil {
			text += ". It lives in the container's own network namespace: a separate set of interfaces, addresses and ports, which the host reaches only where a port is published."
		} else {
			text += ". It shares the host's network (--network host): its ports are the host's."
		}
		d.field("Container", text)
	} else if ns := m.frame.Snapshot.Namespace(s.NetNS); ns != nil && !ns.Host {
		d.field("Namespace", "network namespace "+ns.Label()+": a separate set of interfaces, addresses and ports, as containers and `ip netns` make; only what is routed or forwarded into it reaches it.")
	}
	if f := x.ForwardOf(s); f != nil {
		to := "port " + strconv.Itoa(int(f.To.Port()))
		if f.To.Addr().IsValid() {
			to = f.To.String()
		}
		if f.Container != nil {
			to += " of container " + f.Container.Label()
		}
		d.field("Forwards", "held on the host for a container: connections here go on to "+to+".")
	}
}
