// Package lifeline names the addresses this host cannot stop talking to
// without cutting itself off — its gateways and next hops, link-local and
// neighbour-discovery ranges, its DNS resolvers, its own addresses — so
// that a block covering one of them is refused unless forced.
package lifeline

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
)

// Lifeline is one address or range the host relies on, with the reason.
type Lifeline struct {
	Prefix netip.Prefix
	Why    string // "the default gateway (eth0)"
}

// Ranges every host relies on, whatever its configuration.
var fixed = []Lifeline{
	{netip.MustParsePrefix("169.254.0.0/16"), "IPv4 link-local addresses (neighbours on the same link, cloud metadata)"},
	{netip.MustParsePrefix("fe80::/10"), "IPv6 link-local addresses (neighbour discovery and router advertisements use them)"},
	{netip.MustParsePrefix("ff02::/16"), "IPv6 link-local multicast (neighbour discovery)"},
}

// Set is what a host relies on, as far as it could be read.
type Set struct {
	Lines []Lifeline
	// Gaps name what could not be read: a block then cannot be shown to
	// spare it, and needs forcing.
	Gaps []string
}

// Read reads the lifelines of portwarden's own network namespace: routes
// and next hops through rtnetlink, resolvers from resolvConf (normally
// /etc/resolv.conf, and systemd-resolved's upstreams when it points at
// the stub), and own addresses.
func Read(resolvConf string) *Set {
	s := &Set{Lines: append([]Lifeline(nil), fixed...)}
	hops, addrs, err := readRoutes()
	if err != nil {
		s.Gaps = append(s.Gaps, "the routes (to spare the gateways): "+err.Error())
	}
	s.Lines = append(s.Lines, hops...)
	s.Lines = append(s.Lines, addrs...)
	res, err := resolvers(resolvConf)
	if err != nil && !os.IsNotExist(err) {
		s.Gaps = append(s.Gaps, "the DNS resolvers: "+err.Error())
	}
	for _, a := range res {
		if a.IsLoopback() && resolvConf == "/etc/resolv.conf" {
			// systemd-resolved's stub: the upstream servers are its lifeline.
			if up, err := resolvers("/run/systemd/resolve/resolv.conf"); err == nil {
				for _, u := range up {
					s.Lines = append(s.Lines, Lifeline{netip.PrefixFrom(u, u.BitLen()), "a DNS server systemd-resolved forwards to"})
				}
			}
		}
		s.Lines = append(s.Lines, Lifeline{netip.PrefixFrom(a, a.BitLen()), "a DNS resolver in " + resolvConf})
	}
	return s
}

// Hit says which lifelines blocking peer would cut, one reason each:
// "198.51.100.1: the default gateway (eth0)". A prefix of length 0 is
// said as every address of its family.
func (s *Set) Hit(peer netip.Prefix) []string {
	if peer.Bits() == 0 {
		if peer.Addr().Is4() {
			return []string{"0.0.0.0/0, every IPv4 address: this host would lose all IPv4 traffic, your session with it"}
		}
		return []string{"::/0, every IPv6 address: this host would lose all IPv6 traffic, your session with it"}
	}
	var out []string
	for _, l := range s.Lines {
		if !peer.Overlaps(l.Prefix) {
			continue
		}
		what := l.Prefix.String()
		if l.Prefix.IsSingleIP() {
			what = l.Prefix.Addr().String()
		}
		out = append(out, what+": "+l.Why)
	}
	return out
}

// resolvers reads the nameserver lines of a resolv.conf file.
func resolvers(path string) ([]netip.Addr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				out = append(out, a.WithZone("").Unmap())
			}
		}
	}
	return out, sc.Err()
}
