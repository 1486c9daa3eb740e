package container

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/portwarden/portwarden/sockets"
)

// Published is a host endpoint that reaches a container's listener.
type Published struct {
	Host netip.AddrPort
	Via  string // "proxy" (docker-proxy holds it) or "dnat" (a NAT rule forwards it)
}

// Forward is where a host listener held for a container sends its
// traffic: a docker-proxy's target, or the container port the engine
// reserves the host port for.
type Forward struct {
	To        netip.AddrPort // the container's address and port, when known
	Container *Info
}

// proxyTarget reads docker-proxy's command line: "-proto tcp -host-ip
// 127.0.0.1 -host-port 18081 -container-ip 172.17.0.2 -container-port 80".
func proxyTarget(cmdline []string) (proto string, host, to netip.AddrPort, ok bool) {
	args := map[string]string{}
	for i := 0; i+1 < len(cmdline); i++ {
		if len(cmdline[i]) > 1 && cmdline[i][0] == '-' {
			args[cmdline[i]] = cmdline[i+1]
		}
	}
	hostIP, err1 := netip.ParseAddr(args["-host-ip"])
	hostPort, err2 := strconv.ParseUint(args["-host-port"], 10, 16)
	ip, err3 := netip.ParseAddr(args["-container-ip"])
	port, err4 := strconv.ParseUint(args["-container-port"], 10, 16)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return "", netip.AddrPort{}, netip.AddrPort{}, false
	}
	return args["-proto"], netip.AddrPortFrom(hostIP, uint16(hostPort)), netip.AddrPortFrom(ip, uint16(port)), true
}

// PublishedOf returns the host endpoints that reach s, a listener inside a
// container: the container's published ports for s's port, by the
// userland proxy when a docker-proxy holds the host endpoint, else by NAT.
func (x *Index) PublishedOf(s *sockets.Socket) []Published {
	c := x.Of(s)
	if c == nil || !s.Listening() || x.hostNS == s.NetNS {
		return nil
	}
	var out []Published
	for _, b := range c.Ports {
		if b.Proto == s.Proto.String() && b.ContainerPort == s.Local.Port() {
			via := "dnat"
			if x.proxied[proxyKey{b.Proto, b.Host}] {
				via = "proxy"
			}
			out = append(out, Published{Host: b.Host, Via: via})
		}
	}
	// Port forwards the engine does not record (written by hand, by
	// another tool): to one of the container's addresses and this port.
	addrs := append(slices.Clone(c.IPs), s.Local.Addr().Unmap())
	for _, d := range x.dnat {
		to := d.To.Port()
		if to == 0 {
			to = d.Port
		}
		if (d.Proto != 0 && d.Proto != s.Proto) || to != s.Local.Port() || !slices.Contains(addrs, d.To.Addr()) {
			continue
		}
		host := d.Dest
		if !host.IsValid() {
			host = netip.IPv4Unspecified()
		}
		p := Published{Host: netip.AddrPortFrom(host, d.Port), Via: "dnat"}
		if !slices.ContainsFunc(out, func(q Published) bool { return q.Host.Port() == p.Host.Port() }) {
			out = append(out, p)
		}
	}
	return out
}

// ForwardOf says where a host listener held for a container forwards:
// docker-proxy's target, or (dockerd holding a DNAT-published port) the
// container that published it. nil for any other socket.
func (x *Index) ForwardOf(s *sockets.Socket) *Forward {
	// Held on the host, or in the engine's own namespace: never inside a
	// container's.
	if x == nil || !s.Listening() || x.Inside(s) != nil {
		return nil
	}
	for _, p := range s.Processes {
		switch p.Name {
		case "docker-proxy":
			if _, _, to, ok := proxyTarget(p.Cmdline); ok {
				return &Forward{To: to, Container: x.byIP[to.Addr()]}
			}
		case "dockerd":
			for _, c := range x.all {
				for _, b := range c.Ports {
					if b.Proto == s.Proto.String() && b.Host.Port() == s.Local.Port() &&
						(b.Host.Addr() == s.Local.Addr().Unmap() || b.Host.Addr().IsUnspecified()) {
						return &Forward{To: netip.AddrPortFrom(netip.Addr{}, b.ContainerPort), Container: c}
					}
				}
			}
		}
	}
	return nil
}

// proxyKey is a host endpoint a docker-proxy holds.
type proxyKey struct {
	proto string
	host  netip.AddrPort
}
