//go:build linux

package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Read reads the nftables ruleset of the network namespace nsPath refers
// to (a /proc/PID/ns/net file) through netlink: tables, chains, rules and
// sets, as nft, iptables-nft, ufw, firewalld and Docker write them. It
// reads again when the ruleset changes while it reads.
func Read(nsPath string) (*Ruleset, error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fd := int(f.Fd())
	for range 3 {
		before, err := generation(fd)
		if err != nil {
			return nil, err
		}
		chains, sets, err := readTables(fd)
		if err != nil {
			return nil, err
		}
		after, err := generation(fd)
		if err != nil {
			return nil, err
		}
		if before == after {
			rs := NewRuleset(chains, sets)
			rs.Generation = after
			return rs, nil
		}
	}
	return nil, errors.New("nftables: the ruleset kept changing while it was read")
}

// Generation returns the ruleset generation of the namespace nsPath refers
// to: one netlink round trip, to tell whether a ruleset read before is
// still current.
func Generation(nsPath string) (uint32, error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return generation(int(f.Fd()))
}

func generation(nsFd int) (uint32, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFd})
	if err != nil {
		return 0, fmt.Errorf("nftables: %w", err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return 0, fmt.Errorf("nftables: read the ruleset generation: %w", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("nftables: ruleset generation: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, errors.New("nftables: no ruleset generation in the kernel's answer")
}

func readTables(nsFd int) ([]Chain, []Set, error) {
	// One lasting netlink socket: the default opens one per request, each
	// entering the namespace anew.
	conn, err := nftables.New(nftables.WithNetNSFd(nsFd), nftables.AsLasting())
	if err != nil {
		return nil, nil, fmt.Errorf("nftables: %w", err)
	}
	defer conn.CloseLasting()
	tables, err := conn.ListTables()
	if err != nil {
		return nil, nil, fmt.Errorf("nftables: list tables: %w", err)
	}
	var sets []Set
	for _, t := range tables {
		if t.Family != nftables.TableFamilyINet && t.Family != nftables.TableFamilyIPv4 && t.Family != nftables.TableFamilyIPv6 {
			continue
		}
		ss, err := conn.GetSets(t)
		if err != nil {
			return nil, nil, fmt.Errorf("nftables: sets of %s: %w", tableKey(t.Family, t.Name), err)
		}
		for _, s := range ss {
			els, err := conn.GetSetElements(s)
			if err != nil {
				return nil, nil, fmt.Errorf("nftables: elements of %s %s: %w", tableKey(t.Family, t.Name), s.Name, err)
			}
			sets = append(sets, Set{Family: t.Family, Table: t.Name, Name: s.Name, ID: s.ID, Interval: s.Interval,
				Map: s.IsMap, Concat: s.Concatenation, Elements: els})
		}
	}
	list, err := conn.ListChains()
	if err != nil {
		return nil, nil, fmt.Errorf("nftables: list chains: %w", err)
	}
	var chains []Chain
	for _, c := range list {
		if c.Table == nil || (c.Table.Family != nftables.TableFamilyINet && c.Table.Family != nftables.TableFamilyIPv4 && c.Table.Family != nftables.TableFamilyIPv6) {
			continue
		}
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, nil, fmt.Errorf("nftables: rules of %s %s: %w", tableKey(c.Table.Family, c.Table.Name), c.Name, err)
		}
		ch := Chain{Family: c.Table.Family, Table: c.Table.Name, Name: c.Name, Type: c.Type}
		if c.Hooknum != nil {
			ch.Base, ch.Hook = true, Hook(*c.Hooknum)
			if c.Priority != nil {
				ch.Priority = int32(*c.Priority)
			}
			ch.Drop = c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop
		}
		for _, r := range rules {
			ch.Rules = append(ch.Rules, Rule{Handle: r.Handle, Exprs: r.Exprs})
		}
		chains = append(chains, ch)
	}
	return chains, sets, nil
}

// ReadInterfaces lists the interfaces of the network namespace nsPath
// refers to, with their addresses, through rtnetlink.
func ReadInterfaces(nsPath string) ([]Interface, error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	defer c.Close()
	links, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofIfInfomsg)})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list links: %w", err)
	}
	var out []Interface
	byIndex := map[int]int{}
	for _, m := range links {
		if len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		i := Interface{Index: int(int32(binary.NativeEndian.Uint32(m.Data[4:8])))}
		i.Loopback = binary.NativeEndian.Uint32(m.Data[8:12])&unix.IFF_LOOPBACK != 0
		if ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:]); err == nil {
			for ad.Next() {
				if ad.Type() == unix.IFLA_IFNAME {
					i.Name = ad.String()
				}
			}
		}
		byIndex[i.Index] = len(out)
		out = append(out, i)
	}
	addrs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofIfAddrmsg)})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list addresses: %w", err)
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
	routes, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETROUTE, Flags: netlink.Request | netlink.Dump},
		Data: make([]byte, unix.SizeofRtMsg)})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list routes: %w", err)
	}
	for _, m := range routes {
		dst, oif, ok := parseRoute(m.Data)
		if i, known := byIndex[oif]; ok && known {
			out[i].Routes = append(out[i].Routes, dst)
		}
	}
	return out, nil
}

// parseRoute reads a unicast route of the main table: its destination and
// the index of the interface it leaves by.
func parseRoute(b []byte) (netip.Prefix, int, bool) {
	if len(b) < unix.SizeofRtMsg {
		return netip.Prefix{}, 0, false
	}
	family, bits, table, kind := b[0], int(b[1]), uint32(b[4]), b[7]
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofRtMsg:])
	if err != nil || kind != unix.RTN_UNICAST {
		return netip.Prefix{}, 0, false
	}
	var dst netip.Addr
	oif := 0
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_DST:
			dst, _ = netip.AddrFromSlice(ad.Bytes())
		case unix.RTA_OIF:
			oif = int(ad.Uint32())
		case unix.RTA_TABLE:
			table = ad.Uint32()
		}
	}
	if table != unix.RT_TABLE_MAIN || oif == 0 {
		return netip.Prefix{}, 0, false
	}
	if !dst.IsValid() {
		dst = netip.IPv4Unspecified()
		if family == unix.AF_INET6 {
			dst = netip.IPv6Unspecified()
		}
	}
	return netip.PrefixFrom(dst, bits), oif, true
}
