// Package verdict judges each socket: who can reach a listener, what kind
// of peer a connection has and which way it goes, whether the baseline
// expects it, and how risky it is — as plain data with the reasons spelled
// out, for the dashboard and for scripts alike.
package verdict

import (
	"net/netip"
	"strconv"

	"github.com/portwarden/portwarden/services/session"

	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/signs"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets"
)

// Direction says which side opened a connection.
type Direction string

// Directions.
const (
	DirectionNone     Direction = ""
	DirectionInbound  Direction = "inbound"  // a peer connected to one of our listeners
	DirectionOutbound Direction = "outbound" // we connected out
)

// Verdict is the judgement of one socket.
type Verdict struct {
	Service   string         // service name of the port that matters, or ""
	Known     *catalog.Entry // what the catalog knows of that port, or nil
	Exposure  Exposure       // listeners only
	Interface string         // with ExposureInterface: the interface's name, when known
	// Contained is how the host reaches a listener inside a container's
	// own network; nil for any other socket.
	Contained *Containment
	// Firewall is what the packet filter does with new connections to a
	// listener; nil when it was not evaluated.
	Firewall *firewall.Decision
	// Blocked is the block portwarden holds on a connection's peer; nil
	// when none.
	Blocked   *block.Block
	Peer      Peer      // connections only
	Direction Direction // connections only
	Expected  bool      // covered by the baseline (listeners and inbound), or outbound
	Baseline  *baseline.Entry
	// Outbound is the baseline's entry documenting an outbound
	// connection's peer; UndocumentedOutbound marks an outbound connection
	// to an external peer that a baseline documenting outbound
	// destinations does not cover.
	Outbound             *baseline.Outbound
	UndocumentedOutbound bool
	Risk                 catalog.Risk
	// Unexpected marks a listener the baseline does not cover.
	Unexpected bool
	// External marks a connection with an external peer.
	External bool
	// LoginAttempt marks a connection to an SSH server where nobody has
	// logged in yet (session.LoginAttempt): a client authenticating,
	// idling before it does, or guessing passwords.
	LoginAttempt bool
	// Reasons say, in short phrases, what deserves attention.
	Reasons []string
	// Signs are the signs of a rogue process seen on the processes
	// holding the socket, by their index in Socket.Processes; nil when
	// none has any. They raise Risk whatever the baseline says.
	Signs [][]signs.Sign
}

// SignRisk is the highest risk among the socket's processes' signs the
// baseline does not acknowledge, and whether there is any.
func (v *Verdict) SignRisk() (catalog.Risk, bool) {
	var worst catalog.Risk
	some := false
	for _, s := range v.Signs {
		if r, ok := signs.Worst(s); ok {
			worst, some = max(worst, r), true
		}
	}
	return worst, some
}

// Assessor computes verdicts. Baseline may be empty; Interfaces and
// Contained may be nil.
type Assessor struct {
	Catalog    *catalog.Catalog
	Baseline   *baseline.Baseline
	Interfaces Interfaces
	// Contained says, for a listener inside a container's own network, how
	// the host publishes it; nil for any other socket.
	Contained func(s *sockets.Socket) *Containment
	// IsContainer reports whether an address is a container's: a peer on
	// a container network is internal, whatever range the bridge uses.
	IsContainer func(netip.Addr) bool
	// Where names the container a socket belongs to, for baseline entries
	// that name one; nil: none does.
	Where func(s *sockets.Socket) baseline.Where
	// Reach says what the firewall does with new connections to a
	// listener; nil, or a nil answer: not evaluated.
	Reach func(s *sockets.Socket) *firewall.Decision
	// Blocks are the peers portwarden blocks, to mark their connections.
	Blocks []block.Block
	// Signs returns the signs of a rogue process seen on p; nil: none
	// read.
	//
	// Contained and Reach are asked from the goroutine calling Assess;
	// IsContainer, Where and Signs, which connections ask too, may be
	// asked from two goroutines at once: they must only read.
	Signs func(p *sockets.Process) []signs.Sign

	signedBy map[*sockets.Process]signedProcess // per Assess: each process's signs, judged once
}

// Where names the container s belongs to, in x, for the baseline's
// entries: its name and image; empty outside containers or while unknown.
func Where(x *container.Index, s *sockets.Socket) baseline.Where {
	if c := x.Of(s); c != nil {
		return baseline.Where{Container: c.Name, Image: c.Image}
	}
	return baseline.Where{}
}

func (a *Assessor) where(s *sockets.Socket) baseline.Where {
	if a.Where == nil {
		return baseline.Where{}
	}
	return a.Where(s)
}

// Containment is how a listener inside a container is reached.
type Containment struct {
	Container string      // its name, for the reasons
	Published []Published // host endpoints that reach it; none: only its network does
}

// Published is a host endpoint that reaches a container's listener.
type Published struct {
	Host netip.AddrPort
	Via  string // "proxy" or "dnat"
}

// listenKey finds the listeners of a protocol and port in a namespace.
// Two words with no padding: hashed as plain memory, once per connection.
type listenKey struct {
	netns     uint64
	protoPort uint64
}

func listenKeyOf(s *sockets.Socket) listenKey {
	return listenKey{s.NetNS, uint64(s.Proto)<<16 | uint64(s.Local.Port())}
}

func (a *Assessor) listener(s *sockets.Socket, v *Verdict) {
	port := s.Local.Port()
	v.Known = a.Catalog.Lookup(s.Proto, port)
	v.Service = a.Catalog.ServiceName(s.Proto, port)
	v.Exposure = ClassifyExposure(s.Local.Addr())
	if v.Exposure == ExposureInterface {
		v.Interface = a.Interfaces[s.Local.Addr().WithZone("").Unmap()]
	}
	var contained *Containment
	if a.Contained != nil && v.Exposure != ExposureLoopback {
		contained = a.Contained(s)
	}
	if contained != nil {
		// Judged by what reaches it from the host, not by its bind inside.
		v.Contained = contained
		v.Exposure = ExposureContainer
		if len(contained.Published) > 0 {
			v.Exposure = ExposureNone // judged as its widest host endpoint
		}
		for _, p := range contained.Published {
			if e := ClassifyExposure(p.Host.Addr()); wider(e, v.Exposure) {
				v.Exposure = e
			}
		}
	}
	if a.Baseline != nil {
		v.Baseline = a.Baseline.Match(s, a.where(s))
	}
	if a.Reach != nil {
		v.Firewall = a.Reach(s)
	}
	v.Expected = v.Baseline != nil
	if v.Known != nil {
		v.Risk = v.Known.Risk
	}
	reach := v.Reach()
	switch {
	case v.Exposure == ExposureLoopback, reach == firewall.ReachHost, reach == firewall.ReachNone:
		v.Risk = min(v.Risk, catalog.Low) // reachable from this host only, or not at all
	case v.Exposure == ExposureContainer:
		v.Risk = min(v.Risk, catalog.Low) // its container's neighbours only
	case v.Exposure == ExposureAll && reach != firewall.ReachInternal:
		v.Risk = max(v.Risk.Raise(), catalog.Low) // anyone who can route here reaches it
	}
	if v.Expected {
		return
	}
	v.Unexpected = true
	v.Reasons = append(v.Reasons, "not in baseline")
	switch {
	case contained != nil && len(contained.Published) == 0:
		bind := "bound to every interface of container " + contained.Container + "'s network"
		if !s.Local.Addr().IsUnspecified() {
			bind = "bound to " + s.Local.Addr().Unmap().String() + " in container " + contained.Container + "'s network"
		}
		v.Reasons = append(v.Reasons, bind+"; not published on the host")
	case contained != nil:
		for _, p := range contained.Published {
			v.Reasons = append(v.Reasons, "published on "+p.Host.String()+" by "+p.Via+" (container "+contained.Container+")")
		}
	case v.Exposure == ExposureAll:
		v.Reasons = append(v.Reasons, name(v.Service, port)+" listening on "+allInterfaces(s))
	}
	if r := firewallReason(v.Firewall); r != "" {
		v.Reasons = append(v.Reasons, r)
	}
	if v.Known != nil && v.Known.Risk >= catalog.High {
		v.Reasons = append(v.Reasons, v.Known.Risk.String()+"-risk service: "+v.Known.Name)
	}
}

func (a *Assessor) connection(s *sockets.Socket, listeners Listeners, v *Verdict) {
	var internal []netip.Prefix
	if a.Baseline != nil {
		internal = a.Baseline.Internal
	}
	v.Peer = ClassifyPeer(s.Local.Addr(), s.Remote.Addr(), internal)
	if v.Peer != PeerLoopback && v.Peer != PeerNone && a.IsContainer != nil && a.IsContainer(s.Remote.Addr().WithZone("").Unmap()) {
		v.Peer = PeerInternal
	}
	if v.Peer == PeerNone {
		v.Expected = true
		return
	}
	for i, b := range a.Blocks {
		if b.Covers(s.Remote.Addr(), s.Proto, s.Local.Port()) {
			v.Blocked = &a.Blocks[i]
			v.Reasons = append(v.Reasons, "peer blocked "+b.Until())
			break
		}
	}
	port := s.Remote.Port()
	if l := accepting(s, listeners[listenKeyOf(s)]); l != nil {
		v.Direction = DirectionInbound
		port = s.Local.Port()
		if a.Baseline != nil {
			v.Baseline = a.Baseline.Match(l, a.where(l))
		}
		v.Expected = v.Baseline != nil
	} else {
		v.Direction = DirectionOutbound
		v.Expected = true // unless the baseline documents where we connect to
		if a.Baseline != nil && len(a.Baseline.Outbound) > 0 {
			v.Outbound = a.Baseline.MatchOutbound(s)
		}
	}
	v.Known = a.Catalog.Lookup(s.Proto, port)
	v.Service = a.Catalog.ServiceName(s.Proto, port)
	if v.Known != nil {
		v.Risk = v.Known.Risk
	}
	if v.Direction == DirectionInbound && session.LoginAttempt(s) {
		v.LoginAttempt = true
		v.Reasons = append(v.Reasons, "a login attempt: nobody has logged in on this SSH connection yet")
	}
	if v.Peer != PeerExternal {
		if v.Peer == PeerLoopback {
			v.Risk = min(v.Risk, catalog.Low)
		}
		return
	}
	v.External = true
	if v.Risk >= catalog.Low {
		v.Risk = v.Risk.Raise()
	}
	if v.Direction == DirectionInbound {
		v.Reasons = append(v.Reasons, "inbound from external "+s.Remote.Addr().Unmap().String()+" to "+name(v.Service, port))
	} else {
		v.Reasons = append(v.Reasons, "outbound to external "+s.Remote.Addr().Unmap().String()+" on "+name(v.Service, port))
		if v.Outbound == nil && a.Baseline != nil && len(a.Baseline.Outbound) > 0 {
			v.UndocumentedOutbound, v.Expected = true, false
			v.Reasons = append(v.Reasons, "not among the baseline's outbound destinations")
		}
	}
	if v.Known != nil && v.Known.Risk >= catalog.High {
		v.Reasons = append(v.Reasons, v.Known.Risk.String()+"-risk service: "+v.Known.Name)
	}
}

// accepting returns the listener that accepted connection s, or nil when
// s was opened from this side.
func accepting(s *sockets.Socket, candidates []*sockets.Socket) *sockets.Socket {
	local := s.Local.Addr().WithZone("")
	for _, l := range candidates {
		la := l.Local.Addr().WithZone("")
		switch {
		case la.Unmap() == local.Unmap():
			return l
		case la.IsUnspecified() && la.Is4() && local.Is4():
			return l
		case la.IsUnspecified() && la.Is6() && (!local.Is4In6() || !l.V6Only) && !local.Is4():
			return l
		}
	}
	return nil
}

func name(service string, port uint16) string {
	if service != "" {
		return service
	}
	return "port " + strconv.Itoa(int(port))
}

// allInterfaces describes what a wildcard bind reaches.
func allInterfaces(s *sockets.Socket) string {
	a := s.Local.Addr().Unmap()
	switch {
	case a.Is4():
		return "all IPv4 interfaces (0.0.0.0)"
	case s.V6Only:
		return "all IPv6 interfaces ([::], IPv6 only)"
	}
	return "all interfaces ([::], IPv4 and IPv6)"
}

// exposureRank orders exposures by how many can reach the listener.
var exposureRank = map[Exposure]int{ExposureNone: 0, ExposureLoopback: 1, ExposureContainer: 2, ExposureInterface: 3, ExposureAll: 4}

// wider reports whether e reaches more than than.
func wider(e, than Exposure) bool { return exposureRank[e] > exposureRank[than] }
