package verdict

import (
	"strings"

	"github.com/portwarden/portwarden/sockets"
)

// ExplainExposure says, for someone learning, what a listener's bind
// address means and who can reach it.
func ExplainExposure(s *sockets.Socket, v *Verdict) string {
	addr := s.Local.Addr().WithZone("").Unmap()
	if c := v.Contained; c != nil && len(c.Published) > 0 {
		var on []string
		for _, p := range c.Published {
			on = append(on, p.Host.String()+" ("+p.Via+")")
		}
		return "Listens inside container " + c.Container + "'s own network namespace, and the host publishes it on " +
			strings.Join(on, ", ") + ": whoever reaches that host address reaches the container. " +
			"\"proxy\" means docker-proxy listens on the host and relays; \"dnat\" means a NAT rule forwards packets, which bypasses the host's input firewall."
	}
	switch v.Exposure {
	case ExposureLoopback:
		return "Bound to " + addr.String() + ", a loopback address: only programs on this host can connect. This is the safe default for databases, caches and admin interfaces."
	case ExposureContainer:
		return "Bound to " + addr.String() + " inside a container's own network namespace, and not published on the host: only the container itself and its neighbours on the container network can connect. A network namespace is a separate set of interfaces, addresses and ports; publishing a port (docker run -p) is what would make it reachable through the host."
	case ExposureInterface:
		where := "one network interface"
		if v.Interface != "" {
			where = "interface " + v.Interface
		}
		return "Bound to " + addr.String() + " on " + where + ": anyone who can reach that address can connect, but not through the host's other interfaces."
	case ExposureAll:
		switch {
		case addr.Is4():
			return "Bound to 0.0.0.0, which means every IPv4 interface: anyone who can route to any of this host's addresses can connect. Binding to 127.0.0.1 instead would keep it to this host."
		case s.V6Only:
			return "Bound to [::] with IPV6_V6ONLY, which means every IPv6 interface (not IPv4): anyone who can route to any of this host's IPv6 addresses can connect. Binding to [::1] would keep it to this host."
		default:
			return "Bound to [::] without IPV6_V6ONLY, which means every interface, IPv6 and IPv4 alike: anyone who can route to this host can connect. Binding to [::1] or 127.0.0.1 would keep it to this host."
		}
	}
	return ""
}

// ExplainPeer says what kind of address a connection's peer has.
func ExplainPeer(v *Verdict) string {
	switch v.Peer {
	case PeerLoopback:
		return "The peer is on this host: a loopback address, or this host's own address at both ends. The connection never leaves the host."
	case PeerLinkLocal:
		return "The peer is on the same network link (a link-local address, not routed)."
	case PeerInternal:
		return "The peer is in one of the networks the baseline declares internal, or is a container on this host."
	case PeerPrivate:
		return "The peer has a private address (RFC 1918 or IPv6 ULA): usually your own network, or behind NAT."
	case PeerCGNAT:
		return "The peer has a carrier-grade NAT address (100.64.0.0/10): a provider's shared address space."
	case PeerExternal:
		return "The peer has a public address: it is outside your networks. Check that you expect this host to talk to it."
	}
	return ""
}
