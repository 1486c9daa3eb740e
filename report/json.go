package report

import (
	"bytes"
	"io"
	"time"

	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// Snapshot is the document `portwarden snapshot --json` prints. Fields are
// added, never renamed.
type Snapshot struct {
	Time     string   `json:"time"` // RFC 3339
	Host     string   `json:"host"`
	Complete bool     `json:"complete"` // every owner could be read
	Source   string   `json:"source"`   // "netlink" or "procfs"
	Warnings []string `json:"warnings"`
	// Namespaces are the network namespaces read, the host's first.
	Namespaces []Namespace `json:"namespaces"`
	// RawSockets are the packet and raw IP sockets, which receive
	// without a port.
	RawSockets []RawSocket `json:"raw_sockets"`
	// NetworkPrograms are the eBPF programs on interfaces (XDP, tcx).
	NetworkPrograms []NetworkProgram `json:"network_programs"`
	Sockets         []Socket         `json:"sockets"`
}

// Namespace is a network namespace in JSON.
type Namespace struct {
	Inode     uint64  `json:"inode"`
	Name      *string `json:"name"` // ip netns or Docker's name; null when none
	Host      bool    `json:"host"`
	Processes int     `json:"processes"`
	Entered   bool    `json:"entered"` // false: its sockets could not be read
}

// NetNS is where a socket lives, in JSON.
type NetNS struct {
	Inode uint64  `json:"inode"`
	Name  *string `json:"name"`
	Host  bool    `json:"host"`
}

// Socket is one judged socket in JSON.
type Socket struct {
	Proto      string `json:"proto"`
	IPVersion  int    `json:"ip_version"`
	State      string `json:"state"`
	LocalIP    string `json:"local_ip"`
	LocalPort  uint16 `json:"local_port"`
	RemoteIP   string `json:"remote_ip"`
	RemotePort uint16 `json:"remote_port"`
	UID        uint32 `json:"uid"`
	Inode      uint64 `json:"inode"`
	// RxBytes and TxBytes are the payload a TCP connection received and
	// sent since it opened, as the kernel counts it; null for UDP.
	RxBytes   *uint64   `json:"rx_bytes"`
	TxBytes   *uint64   `json:"tx_bytes"`
	Processes []Process `json:"processes"`
	Service   string    `json:"service"`
	Exposure  *string   `json:"exposure"`  // listeners only
	Peer      *string   `json:"peer"`      // connections only
	Direction *string   `json:"direction"` // connections only
	Expected  bool      `json:"expected"`
	// LoginAttempt marks a connection to an SSH server where nobody has
	// logged in yet (connections only; false for every other socket).
	LoginAttempt bool       `json:"login_attempt"`
	Risk         string     `json:"risk"`
	Reasons      []string   `json:"reasons"`
	NetNS        *NetNS     `json:"netns"`     // null where the system has no namespaces
	Container    *Container `json:"container"` // null outside containers
	// Published are the host endpoints that reach a listener inside a
	// container ([] when none does); null for any other socket.
	Published []Published `json:"published"`
	// ForwardsTo is where a host listener held for a container (by
	// docker-proxy, or by dockerd for a NAT-published port) sends its
	// traffic; null for any other socket.
	ForwardsTo *ForwardsTo `json:"forwards_to"`
	// Reach is the widest class of sources whose new connections get
	// through to a listener: "public", "internal", "host", "none" or
	// "unknown"; null for connections, and where it was not evaluated.
	Reach *string `json:"reach"`
	// Firewall is what the packet filter does with them; null where it
	// was not evaluated.
	Firewall *Firewall `json:"firewall"`
}

// Firewall is the firewall's decision on a listener, in JSON.
type Firewall struct {
	// Verdict is what happens to a new connection from the widest class
	// the bind admits: "accept", "drop", "reject", "redirect" (a DNAT
	// sends it elsewhere) or "unknown".
	Verdict string `json:"verdict"`
	// Rule is the rule that decided: "inet filter input handle 7: tcp
	// dport 9001 drop", "inet filter input policy drop", or "" when no
	// rule applies.
	Rule string `json:"rule"`
	// Sources are the prefixes that get through when only part of the
	// outside does; [] otherwise.
	Sources []string `json:"sources"`
	// SourcesCut is true when more prefixes get through than Sources
	// lists (it holds the first 16).
	SourcesCut bool `json:"sources_cut"`
	// Unsure are sources whose fate could not be followed (see Why) when
	// reach is decided all the same; [] otherwise.
	Unsure []string `json:"unsure"`
	// Why says what could not be evaluated, or that the deciding accept
	// is rate-limited; "" otherwise.
	Why string `json:"why"`
}

// Published is a host endpoint that reaches a container's listener.
type Published struct {
	HostIP   string `json:"host_ip"`
	HostPort uint16 `json:"host_port"`
	Via      string `json:"via"` // "proxy" or "dnat"
}

// ForwardsTo is a container endpoint a host listener forwards to.
type ForwardsTo struct {
	IP        *string `json:"ip"` // null when only the port is known
	Port      uint16  `json:"port"`
	Container *string `json:"container"`
}

// Container is the container a socket belongs to, in JSON; fields the
// engine did not tell are null.
type Container struct {
	Runtime   string  `json:"runtime"`
	ID        string  `json:"id"`
	Name      *string `json:"name"`
	Image     *string `json:"image"`
	Pod       *string `json:"pod"`
	Namespace *string `json:"namespace"`
}

// Process is a process holding a socket, in JSON.
type Process struct {
	PID  int    `json:"pid"`
	PPID int    `json:"ppid"`
	Name string `json:"name"`
	Exe  string `json:"exe"`
	User string `json:"user"`
	UID  uint32 `json:"uid"`
	// Signs are the signs of a rogue process seen on it; omitted when
	// none.
	Signs []Sign `json:"signs,omitempty"`
}

// Sign is one sign of a rogue process: its code ("shell-on-socket") and
// what was seen.
type Sign struct {
	Sign   string `json:"sign"`
	Detail string `json:"detail"`
	Risk   string `json:"risk"`
	// Acknowledged is the baseline's reason, when it acknowledges the
	// sign for this executable.
	Acknowledged string `json:"acknowledged,omitempty"`
}

// SocketOf returns the JSON form of a judged socket living in ns, in
// container c (each nil when unknown).
func SocketOf(j *verdict.Judged, ns *sockets.Namespace, containers *container.Index) Socket {
	s, v := j.Socket, j.Verdict
	out := Socket{
		Proto: s.Proto.String(), IPVersion: s.IPVersion(), State: s.StateName(),
		LocalIP: s.Local.Addr().String(), LocalPort: s.Local.Port(),
		RemoteIP: s.Remote.Addr().String(), RemotePort: s.Remote.Port(),
		UID: s.UID, Inode: s.Inode, Processes: processesOf(s.Processes, v),
		Service: v.Service, Exposure: optional(string(v.Exposure)), Peer: optional(string(v.Peer)),
		Direction: optional(string(v.Direction)), Expected: v.Expected, LoginAttempt: v.LoginAttempt, Risk: v.Risk.String(),
		Reasons: v.Reasons,
	}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if s.Counted {
		rx, tx := s.Bytes.Rx, s.Bytes.Tx
		out.RxBytes, out.TxBytes = &rx, &tx
	}
	if ns != nil {
		out.NetNS = &NetNS{Inode: ns.Inode, Name: optional(ns.Name), Host: ns.Host}
	}
	out.Container = containerOf(containers.Of(s))
	if containers.Inside(s) != nil && s.Listening() {
		out.Published = []Published{}
		for _, p := range containers.PublishedOf(s) {
			out.Published = append(out.Published, Published{HostIP: p.Host.Addr().String(), HostPort: p.Host.Port(), Via: p.Via})
		}
	}
	out.Reach = optional(string(v.Reach()))
	if d := v.Firewall; d != nil {
		out.Firewall = &Firewall{Verdict: d.Verdict, Rule: d.RuleRef(), Sources: []string{}, SourcesCut: d.SourcesCut, Unsure: []string{}, Why: d.Why}
		for _, p := range d.Sources {
			out.Firewall.Sources = append(out.Firewall.Sources, p.String())
		}
		for _, p := range d.Unsure {
			out.Firewall.Unsure = append(out.Firewall.Unsure, p.String())
		}
	}
	if f := containers.ForwardOf(s); f != nil {
		out.ForwardsTo = &ForwardsTo{Port: f.To.Port()}
		if f.To.Addr().IsValid() {
			ip := f.To.Addr().String()
			out.ForwardsTo.IP = &ip
		}
		if f.Container != nil {
			label := f.Container.Label()
			out.ForwardsTo.Container = &label
		}
	}
	return out
}

// processesOf is the JSON form of a socket's processes, each with the
// signs v carries for it.
func processesOf(procs []*sockets.Process, v *verdict.Verdict) []Process {
	out := make([]Process, len(procs))
	for i, p := range procs {
		out[i] = Process{PID: p.PID, PPID: p.PPID, Name: p.Name, Exe: p.Exe, User: p.User, UID: p.UID}
		if i < len(v.Signs) {
			for _, sg := range v.Signs[i] {
				out[i].Signs = append(out[i].Signs, Sign{Sign: string(sg.Code), Detail: sg.Detail, Risk: sg.Risk.String(), Acknowledged: sg.Ack})
			}
		}
	}
	return out
}

// containerOf is the JSON form of a container; nil for none.
func containerOf(c *container.Info) *Container {
	if c == nil {
		return nil
	}
	return &Container{Runtime: c.Runtime, ID: c.ID, Name: optional(c.Name), Image: optional(c.Image),
		Pod: optional(c.Pod), Namespace: optional(c.Namespace)}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// WriteJSON writes the judged snapshot as one Snapshot document. It
// streams socket by socket, so memory stays flat at 100k sockets.
func WriteJSON(w io.Writer, host string, snap *sockets.Snapshot, judged []verdict.Judged, pl Portless, containers *container.Index) error {
	doc := Snapshot{Time: snap.Time.Format(time.RFC3339), Host: host, Complete: snap.Complete, Source: snap.Source,
		Warnings: snap.Warnings, Namespaces: []Namespace{}, Sockets: []Socket{},
		RawSockets:      rawJSON(snap, pl.Raw, containers, func(*verdict.Verdict) bool { return true }),
		NetworkPrograms: programsJSON(snap, pl.Programs, func(netprogs.Verdict) bool { return true })}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	for _, n := range snap.Namespaces {
		doc.Namespaces = append(doc.Namespaces, Namespace{Inode: n.Inode, Name: optional(n.Name), Host: n.Host, Processes: n.Processes, Entered: n.Entered})
	}
	return streamJSON(w, snap, containers, doc, judged, func(*verdict.Judged) bool { return true })
}

// escapeC1 escapes the C1 control characters (U+0080–U+009F), which
// encoding/json leaves raw, so that JSON printed on a terminal cannot steer
// it. In JSON text they can only stand inside strings, where \u0080 is
// their escape.
func escapeC1(b []byte) []byte {
	if bytes.IndexByte(b, 0xc2) < 0 {
		return b
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); i++ {
		if b[i] == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f {
			out = append(out, '\\', 'u', '0', '0', hex[b[i+1]>>4], hex[b[i+1]&0xf])
			i++
			continue
		}
		out = append(out, b[i])
	}
	return out
}
