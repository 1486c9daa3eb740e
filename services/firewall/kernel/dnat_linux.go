//go:build linux

package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"github.com/portwarden/portwarden/sockets"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/portwarden/portwarden/services/firewall"
)

// ReadDNAT reads the DNAT rules of the network namespace nsPath refers to
// (a /proc/PID/ns/net file), through nftables netlink: rules written by
// nft, by iptables-nft and so by Docker, ufw and firewalld on nftables.
// It understands what they write for a port forward (protocol, destination
// port and address, dnat to an address and port) and passes over any
// other rule.
func ReadDNAT(nsPath string) ([]DNAT, error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("nftables: list chains: %w", err)
	}
	var out []DNAT
	for _, c := range chains {
		if c.Table == nil || (c.Table.Family != nftables.TableFamilyIPv4 && c.Table.Family != nftables.TableFamilyIPv6 && c.Table.Family != nftables.TableFamilyINet) {
			continue
		}
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, fmt.Errorf("nftables: rules of %s %s: %w", c.Table.Name, c.Name, err)
		}
		for _, r := range rules {
			if d, ok := parseDNAT(r.Exprs); ok {
				d.Rule = fmt.Sprintf("%s %s %s handle %d", firewall.FamilyName(c.Table.Family), c.Table.Name, c.Name, r.Handle)
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// parseDNAT follows a rule's expressions through the registers: what a
// comparison tests (protocol, destination port or address) and what the
// NAT expression loads.
func parseDNAT(exprs []expr.Any) (DNAT, bool) {
	var d DNAT
	loaded := map[uint32]string{} // register → what a load put in it
	values := map[uint32][]byte{} // register → immediate data
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if e.Key == expr.MetaKeyL4PROTO && !e.SourceRegister {
				loaded[e.Register] = "l4proto"
			}
		case *expr.Payload:
			switch {
			case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2 && e.Len == 2:
				loaded[e.DestRegister] = "dport"
			case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 16 && e.Len == 4:
				loaded[e.DestRegister] = "daddr4"
			case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 24 && e.Len == 16:
				loaded[e.DestRegister] = "daddr6"
			}
		case *expr.Cmp:
			if e.Op != expr.CmpOpEq {
				continue
			}
			switch loaded[e.Register] {
			case "l4proto":
				if len(e.Data) == 1 {
					d.Proto = sockets.Proto(e.Data[0])
				}
			case "dport":
				if len(e.Data) == 2 {
					d.Port = binary.BigEndian.Uint16(e.Data)
				}
			case "daddr4", "daddr6":
				if a, ok := netip.AddrFromSlice(e.Data); ok {
					d.Dest = a
				}
			}
		case *expr.Immediate:
			values[e.Register] = e.Data
		case *expr.Target:
			// iptables-nft keeps its DNAT target as an xtables one.
			if e.Name != "DNAT" || d.Port == 0 {
				return DNAT{}, false
			}
			to, ok := firewall.DNATTarget(e.Info)
			if !ok {
				return DNAT{}, false
			}
			d.To = to
			return d, true
		case *expr.NAT:
			if e.Type != expr.NATTypeDestNAT || d.Port == 0 {
				return DNAT{}, false
			}
			addr, ok := netip.AddrFromSlice(values[e.RegAddrMin])
			if !ok {
				return DNAT{}, false
			}
			var port uint16
			if p := values[e.RegProtoMin]; e.RegProtoMin != 0 && len(p) == 2 {
				port = binary.BigEndian.Uint16(p)
			}
			d.To = netip.AddrPortFrom(addr.Unmap(), port)
			return d, true
		}
	}
	return DNAT{}, false
}
