package verdict

import (
	"net"
	"net/netip"

	"github.com/portwarden/portwarden/sockets"
)

// Exposure says who can reach a listener.
type Exposure string

// Exposures of listeners and bound UDP sockets.
const (
	ExposureNone      Exposure = ""          // not a listener
	ExposureLoopback  Exposure = "loopback"  // this host only
	ExposureInterface Exposure = "interface" // one interface's address
	ExposureAll       Exposure = "all"       // every interface (0.0.0.0, ::)
	// ExposureContainer is a listener inside a container's network that
	// nothing publishes on the host: only the container's neighbours on
	// its network reach it.
	ExposureContainer Exposure = "container"
)

// Peer is the class of a connection's remote address.
type Peer string

// Peer classes, from closest to farthest.
const (
	PeerNone      Peer = ""
	PeerLoopback  Peer = "loopback"
	PeerLinkLocal Peer = "link-local"
	PeerInternal  Peer = "internal" // in the admin's internal_networks
	PeerPrivate   Peer = "private"  // RFC 1918, IPv6 ULA
	PeerCGNAT     Peer = "cgnat"    // 100.64.0.0/10, carrier-grade NAT
	PeerExternal  Peer = "external"
)

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// ClassifyPeer tells what kind of address the peer of a connection from
// local to remote has: loopback when it stays on this host (see
// sockets.PeerIsSelf; local may be the zero Addr when not known).
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry,
// and zones ignored. The admin's internal networks win over the built-in
// private ranges.
func ClassifyPeer(local, remote netip.Addr, internal []netip.Prefix) Peer {
	if !remote.IsValid() || remote.IsUnspecified() {
		return PeerNone
	}
	a := remote.WithZone("").Unmap()
	switch {
	case sockets.PeerIsSelf(local, remote):
		return PeerLoopback
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return PeerLinkLocal
	}
	for _, p := range internal {
		if p.Contains(a) {
			return PeerInternal
		}
	}
	switch {
	case a.IsPrivate():
		return PeerPrivate
	case cgnat.Contains(a):
		return PeerCGNAT
	}
	return PeerExternal
}

// ClassifyExposure tells who can reach a socket bound to addr: loopback,
// one interface, or all of them.
func ClassifyExposure(addr netip.Addr) Exposure {
	a := addr.WithZone("").Unmap()
	switch {
	case a.IsUnspecified():
		return ExposureAll
	case a.IsLoopback():
		return ExposureLoopback
	}
	return ExposureInterface
}

// Interfaces maps this host's addresses to their interface names, to say
// which interface a listener is bound to.
type Interfaces map[netip.Addr]string

// LocalInterfaces reads the addresses of this network namespace's
// interfaces.
func LocalInterfaces() (Interfaces, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	m := Interfaces{}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					m[ip.Unmap()] = ifc.Name
				}
			}
		}
	}
	return m, nil
}
