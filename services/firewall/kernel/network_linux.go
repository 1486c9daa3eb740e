//go:build linux

package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"github.com/mdlayher/netlink"
	"github.com/portwarden/portwarden/services/firewall"
	"golang.org/x/sys/unix"
)

// ReadInterfaces lists the interfaces of the network namespace nsPath
// refers to, with their addresses and routes, through rtnetlink.
func ReadInterfaces(nsPath string) ([]firewall.Interface, error) {
	ifs, _, err := ReadNetwork(nsPath)
	return ifs, err
}

// ReadNetwork reads, in one rtnetlink conversation, the interfaces of
// the network namespace nsPath refers to (addresses, the routes that
// leave by each, whether tc classifies what each receives) and its
// policy routing: every rule of both IP versions ("ip rule", "ip -6
// rule") and the routes of every table, of every type (local, blackhole,
// prohibit, unreachable, throw as well as unicast).
func ReadNetwork(nsPath string) ([]firewall.Interface, *firewall.Routing, error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: %w", err)
	}
	defer c.Close()
	links, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofIfInfomsg)})
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: list links: %w", err)
	}
	var out []firewall.Interface
	byIndex := map[int]int{}
	for _, m := range links {
		if len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		i := firewall.Interface{Index: int(int32(binary.NativeEndian.Uint32(m.Data[4:8])))}
		i.Loopback = binary.NativeEndian.Uint32(m.Data[8:12])&unix.IFF_LOOPBACK != 0
		if ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:]); err == nil {
			for ad.Next() {
				switch ad.Type() {
				case unix.IFLA_IFNAME:
					i.Name = ad.String()
				case unix.IFLA_LINKINFO:
					ad.Nested(func(nad *netlink.AttributeDecoder) error {
						for nad.Next() {
							if nad.Type() == unix.IFLA_INFO_KIND {
								i.Bridge = nad.String() == "bridge"
							}
						}
						return nil
					})
				}
			}
		}
		byIndex[i.Index] = len(out)
		out = append(out, i)
	}
	addrs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofIfAddrmsg)})
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: list addresses: %w", err)
	}
	for _, m := range addrs {
		if len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		bits, index := int(m.Data[1]), int(binary.NativeEndian.Uint32(m.Data[4:8]))
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfAddrmsg:])
		if err != nil {
			continue
		}
		var addr, local netip.Addr
		for ad.Next() {
			switch ad.Type() {
			case unix.IFA_ADDRESS:
				addr, _ = netip.AddrFromSlice(ad.Bytes())
			case unix.IFA_LOCAL:
				local, _ = netip.AddrFromSlice(ad.Bytes())
			}
		}
		if local.IsValid() {
			addr = local
		}
		if i, ok := byIndex[index]; ok && addr.IsValid() {
			out[i].Addrs = append(out[i].Addrs, netip.PrefixFrom(addr, bits))
		}
	}
	qdiscs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETQDISC, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, sizeofTcMsg)})
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: list qdiscs: %w", err)
	}
	for _, m := range qdiscs {
		if index, ok := ingressQdisc(m.Data); ok {
			if i, known := byIndex[index]; known {
				out[i].TCIngress = true
			}
		}
	}
	routes, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETROUTE, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofRtMsg)})
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: list routes: %w", err)
	}
	routing := &firewall.Routing{}
	for _, m := range routes {
		for _, r := range parseRoute(m.Data) {
			if i, known := byIndex[r.oif]; known {
				out[i].Routes = append(out[i].Routes, firewall.Route{Dst: r.dst, Table: r.table})
			}
		}
		if t, ok := parseTableRoute(m.Data); ok {
			routing.Routes = append(routing.Routes, t)
		}
	}
	rules, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETRULE, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, 12)}) // struct fib_rule_hdr, family AF_UNSPEC: both
	if err != nil {
		return nil, nil, fmt.Errorf("rtnetlink: list ip rules: %w", err)
	}
	for _, m := range rules {
		if x, ok := parseRule(m.Data); ok {
			routing.Rules = append(routing.Rules, x)
		}
	}
	return out, routing, nil
}

// sizeofTcMsg is the size of struct tcmsg { u8 family, pad1; u16 pad2;
// s32 ifindex; u32 handle, parent, info; }, which golang.org/x/sys lacks.
const sizeofTcMsg = 20

// ingressQdisc reads a struct tcmsg and its TCA_KIND: the interface's
// index when the qdisc classifies what it receives (ingress, clsact).
func ingressQdisc(b []byte) (int, bool) {
	if len(b) < sizeofTcMsg {
		return 0, false
	}
	index := int(int32(binary.NativeEndian.Uint32(b[4:8])))
	ad, err := netlink.NewAttributeDecoder(b[sizeofTcMsg:])
	if err != nil {
		return 0, false
	}
	for ad.Next() {
		if ad.Type() == unix.TCA_KIND {
			kind := ad.String()
			return index, kind == "ingress" || kind == "clsact"
		}
	}
	return 0, false
}

type routeHop struct {
	dst   netip.Prefix
	table uint32
	oif   int
}

// parseRoute reads a unicast route of any table: its destination and the
// interfaces it leaves by (each hop of a multipath route).
func parseRoute(b []byte) []routeHop {
	if len(b) < unix.SizeofRtMsg || b[7] != unix.RTN_UNICAST {
		return nil
	}
	family, bits, table := b[0], int(b[1]), uint32(b[4])
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofRtMsg:])
	if err != nil {
		return nil
	}
	var dst netip.Addr
	var oifs []int
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_DST:
			dst, _ = netip.AddrFromSlice(ad.Bytes())
		case unix.RTA_OIF:
			oifs = append(oifs, int(ad.Uint32()))
		case unix.RTA_TABLE:
			table = ad.Uint32()
		case unix.RTA_MULTIPATH:
			// struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex; }
			// then its attributes, each hop aligned to 4 bytes.
			for mp := ad.Bytes(); len(mp) >= unix.SizeofRtNexthop; {
				n := int(binary.NativeEndian.Uint16(mp))
				if n < unix.SizeofRtNexthop || n > len(mp) {
					break
				}
				oifs = append(oifs, int(int32(binary.NativeEndian.Uint32(mp[4:]))))
				mp = mp[min((n+3)&^3, len(mp)):]
			}
		}
	}
	if !dst.IsValid() {
		dst = netip.IPv4Unspecified()
		if family == unix.AF_INET6 {
			dst = netip.IPv6Unspecified()
		}
	}
	var out []routeHop
	for _, oif := range oifs {
		out = append(out, routeHop{netip.PrefixFrom(dst, bits), table, oif})
	}
	return out
}
