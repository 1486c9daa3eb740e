//go:build linux

package kernel

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/portwarden/portwarden/services/firewall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// google/nftables drops, without a word, every expression it cannot
// decode (socket, rt, tproxy, byteorder, …): a rule
// "tcp dport 22 socket transparent 1 accept" comes back as "tcp dport 22
// … accept". The kernel's own list of each rule's expression names shows
// where they were, so the evaluator can say it does not understand them.

// nftDump asks nftables, in the namespace nsFd refers to, for every
// object of a kind (NFT_MSG_GETRULE, NFT_MSG_GETCHAIN) of every family.
func nftDump(nsFd int, msg uint16, what string) ([]netlink.Message, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFd})
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | msg), Flags: netlink.Request | netlink.Dump},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return nil, fmt.Errorf("nftables: %s: %w", what, NetfilterErr(err))
	}
	return msgs, nil
}

// decodeNft reads an nftables message's family (struct nfgenmsg) and
// opens its attributes.
func decodeNft(m netlink.Message) (nftables.TableFamily, *netlink.AttributeDecoder, bool) {
	if len(m.Data) < 4 {
		return 0, nil, false
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	return nftables.TableFamily(m.Data[0]), ad, err == nil
}

// ruleKey names a rule: "inet filter input" and its handle.
type ruleKey struct {
	chain  string
	handle uint64
}

// rawExpr is an expression as the kernel lists it: its name and data.
type rawExpr struct {
	name string
	data []byte
}

// ruleExprNames reads every rule's expressions, names and data, in order.
func ruleExprNames(nsFd int) (map[ruleKey][]rawExpr, error) {
	msgs, err := nftDump(nsFd, unix.NFT_MSG_GETRULE, "list rules")
	if err != nil {
		return nil, err
	}
	out := map[ruleKey][]rawExpr{}
	for _, m := range msgs {
		family, ad, ok := decodeNft(m)
		if !ok {
			continue
		}
		var table, chain string
		var handle uint64
		var names []rawExpr
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_RULE_TABLE:
				table = ad.String()
			case unix.NFTA_RULE_CHAIN:
				chain = ad.String()
			case unix.NFTA_RULE_HANDLE:
				handle = binary.BigEndian.Uint64(ad.Bytes())
			case unix.NFTA_RULE_EXPRESSIONS:
				ad.Nested(func(list *netlink.AttributeDecoder) error {
					for list.Next() {
						list.Nested(func(e *netlink.AttributeDecoder) error {
							var x rawExpr
							for e.Next() {
								switch e.Type() {
								case unix.NFTA_EXPR_NAME:
									x.name = e.String()
								case unix.NFTA_EXPR_DATA:
									x.data = e.Bytes()
								}
							}
							names = append(names, x)
							return nil
						})
					}
					return nil
				})
			}
		}
		out[ruleKey{firewall.TableName(family, table) + " " + chain, handle}] = names
	}
	return out, nil
}

// missingExprs aligns the expressions the library decoded with the names
// the kernel lists, and returns the ones it dropped with the index (in
// decoded) they stood before.
func missingExprs(decoded []expr.Any, names []rawExpr) []firewall.Missing {
	var out []firewall.Missing
	j := 0
	for _, x := range names {
		if j < len(decoded) && decodedName(decoded[j]) == x.name {
			if ct, ok := decoded[j].(*expr.Ct); ok {
				repairCtSet(ct, x.data)
			}
			j++
			continue
		}
		m := firewall.Missing{Before: j, Name: x.name}
		if x.name == "byteorder" {
			m.Byteorder = parseByteorder(x.data)
		}
		out = append(out, m)
	}
	return out
}

// repairCtSet marks a ct statement ("ct mark set …") as one: the library
// reads NFTA_CT_SREG into nothing, so the statement would look like a
// load of the connection's mark into register 0.
func repairCtSet(ct *expr.Ct, b []byte) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		if ad.Type() == unix.NFTA_CT_SREG {
			ct.Register, ct.SourceRegister = ad.Uint32(), true
		}
	}
}

// parseByteorder reads NFTA_BYTEORDER_SREG, _DREG, _OP, _LEN and _SIZE.
func parseByteorder(b []byte) *firewall.Byteorder {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil
	}
	ad.ByteOrder = binary.BigEndian
	bo := &firewall.Byteorder{}
	for ad.Next() {
		switch ad.Type() {
		case 1:
			bo.Src = ad.Uint32()
		case 2:
			bo.Dst = ad.Uint32()
		case 3:
			bo.Op = ad.Uint32()
		case 4:
			bo.Len = ad.Uint32()
		case 5:
			bo.Size = ad.Uint32()
		}
	}
	if ad.Err() != nil || bo.Size == 0 {
		return nil
	}
	return bo
}

// decodedName is the kernel's name of a decoded expression.
func decodedName(e expr.Any) string {
	switch e.(type) {
	case *expr.Verdict, *expr.Immediate:
		return "immediate"
	case *expr.FlowOffload:
		return "flow_offload"
	}
	return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr."))
}

// Kernel numbers golang.org/x/sys does not name.
const (
	nfInetIngress = 5 // NF_INET_INGRESS
	nftaHookDevs  = 4 // NFTA_HOOK_DEVS
)

// chainDevices reads the devices each ingress or egress chain is attached
// to ("netdev filter in" → ["eth0"]), which google/nftables does not
// decode: NFTA_CHAIN_HOOK's NFTA_HOOK_DEV, or its NFTA_HOOK_DEVS list.
func chainDevices(nsFd int) (map[string][]string, error) {
	msgs, err := nftDump(nsFd, unix.NFT_MSG_GETCHAIN, "list chains")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, m := range msgs {
		family, ad, ok := decodeNft(m)
		if !ok {
			continue
		}
		var table, name string
		var devs []string
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_CHAIN_TABLE:
				table = ad.String()
			case unix.NFTA_CHAIN_NAME:
				name = ad.String()
			case unix.NFTA_CHAIN_HOOK:
				ad.Nested(func(h *netlink.AttributeDecoder) error {
					for h.Next() {
						switch h.Type() {
						case unix.NFTA_HOOK_DEV:
							devs = append(devs, h.String())
						case nftaHookDevs:
							h.Nested(func(d *netlink.AttributeDecoder) error {
								for d.Next() {
									devs = append(devs, d.String())
								}
								return nil
							})
						}
					}
					return nil
				})
			}
		}
		if len(devs) > 0 {
			slices.Sort(devs)
			out[firewall.TableName(family, table)+" "+name] = slices.Compact(devs)
		}
	}
	return out, nil
}
