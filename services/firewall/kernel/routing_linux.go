//go:build linux

package kernel

import (
	"encoding/binary"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/services/firewall"
)

// parseRule reads a struct fib_rule_hdr { u8 family, dst_len, src_len,
// tos, table, res1, res2, action; u32 flags } and its FRA_* attributes.
func parseRule(b []byte) (firewall.RouteRule, bool) {
	var x firewall.RouteRule
	if len(b) < 12 || b[0] != unix.AF_INET && b[0] != unix.AF_INET6 {
		return x, false
	}
	x.V6 = b[0] == unix.AF_INET6
	dstLen, srcLen, tos := int(b[1]), int(b[2]), b[3]
	x.Table, x.Action = uint32(b[4]), firewall.RuleAction(b[7])
	flags := binary.NativeEndian.Uint32(b[8:])
	x.Invert = flags&unix.FIB_RULE_INVERT != 0
	x.SuppressPrefixlen = -1
	if tos != 0 {
		x.Unknown = "a tos selector"
	}
	ad, err := netlink.NewAttributeDecoder(b[12:])
	if err != nil {
		return x, false
	}
	addr := func(bits int) netip.Prefix {
		a, ok := netip.AddrFromSlice(ad.Bytes())
		if !ok {
			return netip.Prefix{}
		}
		return netip.PrefixFrom(a, bits)
	}
	portRange := func() [2]uint16 {
		v := ad.Bytes()
		if len(v) < 4 {
			return [2]uint16{}
		}
		return [2]uint16{binary.NativeEndian.Uint16(v), binary.NativeEndian.Uint16(v[2:])}
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.FRA_PRIORITY:
			x.Priority = ad.Uint32()
		case unix.FRA_TABLE:
			x.Table = ad.Uint32()
		case unix.FRA_SRC:
			x.From = addr(srcLen)
		case unix.FRA_DST:
			x.To = addr(dstLen)
		case unix.FRA_IIFNAME:
			x.Iif = ad.String()
		case unix.FRA_OIFNAME:
			x.Oif = ad.String()
		case unix.FRA_GOTO:
			x.Goto = ad.Uint32()
		case unix.FRA_FWMARK:
			x.FwMark, x.HasMark = ad.Uint32(), true
			if x.FwMask == 0 {
				x.FwMask = ^uint32(0)
			}
		case unix.FRA_FWMASK:
			x.FwMask, x.HasMark = ad.Uint32(), true
		case unix.FRA_IP_PROTO:
			x.IPProto = ad.Uint8()
		case unix.FRA_SPORT_RANGE:
			x.Sport = portRange()
		case unix.FRA_DPORT_RANGE:
			x.Dport = portRange()
		case unix.FRA_SUPPRESS_PREFIXLEN:
			if v := ad.Uint32(); v != ^uint32(0) {
				x.SuppressPrefixlen = int(v)
			}
		case unix.FRA_SUPPRESS_IFGROUP:
			if ad.Uint32() != ^uint32(0) {
				x.Unknown = "suppress_ifgroup"
			}
		case unix.FRA_UID_RANGE:
			x.Unknown = "a uidrange selector (the listener's owner)"
		case unix.FRA_L3MDEV:
			if ad.Uint8() != 0 {
				x.Unknown = "an l3mdev (VRF) rule"
			}
		case unix.FRA_TUN_ID:
			if len(ad.Bytes()) == 8 && binary.BigEndian.Uint64(ad.Bytes()) != 0 {
				x.Unknown = "a tun_id selector"
			}
		}
	}
	const iifDetached = 0x8 // FIB_RULE_IIF_DETACHED: its interface is gone, it matches nothing
	if flags&iifDetached != 0 {
		x.Iif = "(detached) " + x.Iif
	}
	return x, ad.Err() == nil
}

// parseTableRoute reads a route of any table and type.
func parseTableRoute(b []byte) (firewall.TableRoute, bool) {
	var t firewall.TableRoute
	if len(b) < unix.SizeofRtMsg || b[0] != unix.AF_INET && b[0] != unix.AF_INET6 {
		return t, false
	}
	bits, typ := int(b[1]), b[7]
	t.Table, t.Type = uint32(b[4]), typ
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofRtMsg:])
	if err != nil {
		return t, false
	}
	var dst netip.Addr
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_DST:
			dst, _ = netip.AddrFromSlice(ad.Bytes())
		case unix.RTA_TABLE:
			t.Table = ad.Uint32()
		}
	}
	if !dst.IsValid() {
		dst = netip.IPv4Unspecified()
		if b[0] == unix.AF_INET6 {
			dst = netip.IPv6Unspecified()
		}
	}
	t.Dst = netip.PrefixFrom(dst, bits)
	return t, ad.Err() == nil
}
