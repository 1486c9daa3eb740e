//go:build linux

package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/services/firewall"
)

// The ipset netlink protocol (include/uapi/linux/netfilter/ipset/ip_set.h):
// the kernel's own list, as "ipset list" reads it, with each set's index
// (what iptables' set match holds) and every entry's flags.
const (
	ipsetProtocol = 7  // IPSET_PROTOCOL
	ipsetCmdList  = 7  // IPSET_CMD_LIST
	attrProtocol  = 1  // IPSET_ATTR_PROTOCOL
	attrSetName   = 2  // IPSET_ATTR_SETNAME
	attrTypeName  = 3  // IPSET_ATTR_TYPENAME
	attrFamily    = 5  // IPSET_ATTR_FAMILY
	attrData      = 7  // IPSET_ATTR_DATA
	attrADT       = 8  // IPSET_ATTR_ADT
	attrIndex     = 11 // IPSET_ATTR_INDEX
	attrIP        = 1  // IPSET_ATTR_IP (nested: IPSET_ATTR_IPADDR_IPV4/6)
	attrCIDR      = 3
	attrPort      = 4
	attrTimeout   = 6
	attrProto     = 7
	attrCadtFlags = 8
	attrEther     = 17
	attrName      = 18
	attrIP2       = 20
	attrIface     = 23
	attrMark      = 10
	flagNoMatch   = 1 << 2 // IPSET_FLAG_NOMATCH
)

// ReadIPSets lists the ipsets of the network namespace nsPath refers to,
// with their entries, and a sum of what was read: equal sums, equal sets.
// A namespace without ipset support has none.
func ReadIPSets(nsPath string) ([]firewall.IPSet, uint64, error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		return nil, 0, fmt.Errorf("ipset: %w", err)
	}
	defer c.Close()
	ae := netlink.NewAttributeEncoder()
	ae.Uint8(attrProtocol, ipsetProtocol)
	req, err := ae.Encode()
	if err != nil {
		return nil, 0, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_IPSET<<8 | ipsetCmdList), Flags: netlink.Request | netlink.Dump},
		Data:   append([]byte{unix.AF_INET, unix.NFNETLINK_V0, 0, 0}, req...),
	})
	if err != nil {
		if errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.ENOENT) {
			return nil, 0, nil // no ipset module: no sets
		}
		return nil, 0, fmt.Errorf("ipset: list sets: %w", NetfilterErr(err))
	}
	h := fnv.New64a()
	var out []firewall.IPSet
	for _, m := range msgs {
		h.Write(m.Data)
		s, ok := parseIPSet(m.Data)
		if !ok {
			continue
		}
		// A large set comes in several messages, each with its name.
		if n := len(out); n > 0 && out[n-1].Name == s.Name {
			out[n-1].Members = append(out[n-1].Members, s.Members...)
			continue
		}
		out = append(out, s)
	}
	return out, h.Sum64(), nil
}

// parseIPSet reads one message of the list: a set's header, its entries.
func parseIPSet(b []byte) (firewall.IPSet, bool) {
	var s firewall.IPSet
	if len(b) < 4 {
		return s, false
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return s, false
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case attrSetName:
			s.Name = ad.String()
		case attrTypeName:
			s.Type = ad.String()
		case attrFamily:
			s.Family = ad.Uint8()
		case attrIndex:
			s.Index = ad.Uint16()
		case attrADT:
			ad.Nested(func(list *netlink.AttributeDecoder) error {
				for list.Next() {
					if list.Type() == attrData {
						list.Nested(func(e *netlink.AttributeDecoder) error {
							s.Members = append(s.Members, parseMember(e))
							return nil
						})
					}
				}
				return nil
			})
		}
	}
	return s, ad.Err() == nil && s.Name != ""
}

// parseMember reads an entry's attributes.
func parseMember(e *netlink.AttributeDecoder) firewall.IPSetMember {
	e.ByteOrder = binary.BigEndian
	var m firewall.IPSetMember
	var addr netip.Addr
	cidr := -1
	for e.Next() {
		switch e.Type() {
		case attrIP:
			e.Nested(func(ip *netlink.AttributeDecoder) error {
				for ip.Next() {
					addr, _ = netip.AddrFromSlice(ip.Bytes())
				}
				return nil
			})
		case attrCIDR:
			cidr = int(e.Uint8())
		case attrPort:
			m.Port, m.HasPort = e.Uint16(), true
		case attrProto:
			m.Proto = e.Uint8()
		case attrTimeout:
			m.Timeout = e.Uint32()
		case attrCadtFlags:
			m.NoMatch = e.Uint32()&flagNoMatch != 0
		case attrName:
			m.Set = e.String()
		case attrIP2, attrIface, attrEther, attrMark:
			m.Other = true
		}
	}
	if addr.IsValid() {
		if cidr < 0 {
			cidr = addr.BitLen()
		}
		m.Addr = netip.PrefixFrom(addr, cidr).Masked()
	}
	return m
}
