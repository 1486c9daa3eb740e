package lifeline

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// readRoutes reads, through rtnetlink, the next hops of every unicast
// route in every table (multipath and nexthop objects included) and the
// host's own addresses.
func readRoutes() (hops, own []Lifeline, err error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: %w", err)
	}
	defer c.Close()
	routes, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETROUTE, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofRtMsg)})
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: list routes: %w", err)
	}
	seen := map[netip.Addr]bool{}
	add := func(gw netip.Addr, why string) {
		gw = gw.WithZone("").Unmap()
		if gw.IsValid() && !gw.IsUnspecified() && !seen[gw] {
			seen[gw] = true
			hops = append(hops, Lifeline{netip.PrefixFrom(gw, gw.BitLen()), why})
		}
	}
	for _, m := range routes {
		for _, h := range parseRoute(m.Data) {
			add(h.gw, h.why())
		}
	}
	// Routes may name their next hop by a nexthop object (ip nexthop): its
	// gateway is there. Kernels without them answer an error, which says
	// only that there are none.
	if nhs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETNEXTHOP, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, 8)}); err == nil {
		for _, m := range nhs {
			if gw, ok := nexthopGateway(m.Data); ok {
				add(gw, "a next hop of this host's routes (ip nexthop)")
			}
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return hops, nil, fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.IsLoopback() {
				bits, _ := ipn.Mask.Size()
				own = append(own, Lifeline{netip.PrefixFrom(ip, bits).Masked(), "loopback: programs on this host reach each other through it"})
				continue
			}
			own = append(own, Lifeline{netip.PrefixFrom(ip, ip.BitLen()), "one of this host's own addresses (" + ifc.Name + ")"})
		}
	}
	return hops, own, nil
}

// hop is a route's next hop.
type hop struct {
	gw    netip.Addr
	dst   netip.Prefix
	oif   int
	table uint32
}

func (h hop) why() string {
	dev := ""
	if ifc, err := net.InterfaceByIndex(h.oif); err == nil {
		dev = " via " + ifc.Name
	}
	table := ""
	if h.table != unix.RT_TABLE_MAIN {
		table = fmt.Sprintf(" in routing table %d", h.table)
	}
	if h.dst.Bits() == 0 {
		return "a default gateway" + dev + table
	}
	return "the next hop to " + h.dst.String() + dev + table
}

// parseRoute reads a unicast route's next hops: RTA_GATEWAY, RTA_VIA and
// each hop of RTA_MULTIPATH.
func parseRoute(b []byte) []hop {
	if len(b) < unix.SizeofRtMsg || b[7] != unix.RTN_UNICAST {
		return nil
	}
	family, bits := b[0], int(b[1])
	base := hop{table: uint32(b[4])}
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofRtMsg:])
	if err != nil {
		return nil
	}
	var multipath []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_DST:
			if a, ok := netip.AddrFromSlice(ad.Bytes()); ok {
				base.dst = netip.PrefixFrom(a, bits)
			}
		case unix.RTA_OIF:
			base.oif = int(ad.Uint32())
		case unix.RTA_TABLE:
			base.table = ad.Uint32()
		case unix.RTA_GATEWAY:
			base.gw, _ = netip.AddrFromSlice(ad.Bytes())
		case unix.RTA_VIA:
			base.gw = viaAddr(ad.Bytes())
		case unix.RTA_MULTIPATH:
			multipath = append([]byte(nil), ad.Bytes()...)
		}
	}
	if !base.dst.IsValid() {
		unspecified := netip.IPv4Unspecified()
		if family == unix.AF_INET6 {
			unspecified = netip.IPv6Unspecified()
		}
		base.dst = netip.PrefixFrom(unspecified, 0)
	}
	out := []hop{base}
	// struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex; } then
	// its own attributes, each hop aligned to 4 bytes.
	for len(multipath) >= unix.SizeofRtNexthop {
		n := int(binary.NativeEndian.Uint16(multipath))
		if n < unix.SizeofRtNexthop || n > len(multipath) {
			break
		}
		h := base
		h.oif, h.gw = int(int32(binary.NativeEndian.Uint32(multipath[4:]))), netip.Addr{}
		if nad, err := netlink.NewAttributeDecoder(multipath[unix.SizeofRtNexthop:n]); err == nil {
			for nad.Next() {
				switch nad.Type() {
				case unix.RTA_GATEWAY:
					h.gw, _ = netip.AddrFromSlice(nad.Bytes())
				case unix.RTA_VIA:
					h.gw = viaAddr(nad.Bytes())
				}
			}
		}
		out = append(out, h)
		multipath = multipath[min((n+3)&^3, len(multipath)):]
	}
	return out
}

// viaAddr reads struct rtvia: a u16 family, then the address.
func viaAddr(b []byte) netip.Addr {
	if len(b) < 2 {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(b[2:])
	return a
}

// nexthopGateway reads NHA_GATEWAY from a nexthop object (struct nhmsg,
// 8 bytes, then attributes).
func nexthopGateway(b []byte) (netip.Addr, bool) {
	if len(b) < 8 {
		return netip.Addr{}, false
	}
	ad, err := netlink.NewAttributeDecoder(b[8:])
	if err != nil {
		return netip.Addr{}, false
	}
	for ad.Next() {
		if ad.Type() == unix.NHA_GATEWAY {
			a, ok := netip.AddrFromSlice(ad.Bytes())
			return a, ok
		}
	}
	return netip.Addr{}, false
}
