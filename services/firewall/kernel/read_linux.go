//go:build linux

package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/portwarden/portwarden/services/firewall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Read reads the nftables ruleset of the network namespace nsPath refers
// to (a /proc/PID/ns/net file) through netlink: tables, chains, rules and
// sets, as nft, iptables-nft, ufw, firewalld and Docker write them. It
// reads again when the ruleset changes while it reads.
func Read(nsPath string) (*firewall.Ruleset, error) { return ReadWith(nsPath, nil) }

// ReadWith is Read, evaluated together with the namespace's
// iptables-legacy tables (ReadLegacy; nil for none).
func ReadWith(nsPath string, legacy *Legacy) (*firewall.Ruleset, error) {
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
		chains, sets, objs, err := readTables(fd)
		if err != nil {
			return nil, err
		}
		after, err := generation(fd)
		if err != nil {
			return nil, err
		}
		if before == after {
			if legacy != nil {
				chains = append(chains, legacy.Chains...)
			}
			t := firewall.Tables{Chains: chains, Sets: sets, Objects: objs}
			var ipsetSum uint64
			uses := usesIPSets(chains)
			if uses {
				if t.IPSets, ipsetSum, err = ReadIPSets(nsPath); err != nil {
					return nil, err
				}
			}
			rs := firewall.Compile(t)
			rs.UsesIPSets, rs.IPSetSum = uses, ipsetSum
			rs.Generation = after
			if legacy != nil {
				rs.LegacySum = legacy.Sum
			}
			return rs, nil
		}
	}
	return nil, errors.New("nftables: the ruleset kept changing while it was read")
}

// usesIPSets reports whether a rule matches on an ipset (iptables' "-m
// set"): only then are the namespace's ipsets read.
func usesIPSets(chains []firewall.Chain) bool {
	for _, c := range chains {
		for _, r := range c.Rules {
			for _, e := range r.Exprs {
				if m, ok := e.(*expr.Match); ok && m.Name == "set" {
					return true
				}
			}
		}
	}
	return false
}

// IPSetsChanged reports whether the ipsets a ruleset's rules match on
// have changed since it was read: ipsets change without a new nftables
// generation (fail2ban and CSF add and remove entries all day).
func IPSetsChanged(nsPath string, rs *firewall.Ruleset) (bool, error) {
	if !rs.UsesIPSets {
		return false, nil
	}
	_, sum, err := ReadIPSets(nsPath)
	return sum != rs.IPSetSum, err
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

// evaluated says whether the evaluator reads a table family's chains:
// those that see IP packets to this host (arp does not).
func evaluated(f nftables.TableFamily) bool {
	switch f {
	case nftables.TableFamilyINet, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6,
		nftables.TableFamilyNetdev, nftables.TableFamilyBridge:
		return true
	}
	return false
}

func readTables(nsFd int) ([]firewall.Chain, []firewall.Set, []firewall.Object, error) {
	// One lasting netlink socket: the default opens one per request, each
	// entering the namespace anew.
	conn, err := nftables.New(nftables.WithNetNSFd(nsFd), nftables.AsLasting())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nftables: %w", err)
	}
	defer conn.CloseLasting()
	tables, err := conn.ListTables()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nftables: list tables: %w", NetfilterErr(err))
	}
	devices, err := chainDevices(nsFd)
	if err != nil {
		return nil, nil, nil, err
	}
	exprNames, err := ruleExprNames(nsFd)
	if err != nil {
		return nil, nil, nil, err
	}
	var sets []firewall.Set
	var objs []firewall.Object
	for _, t := range tables {
		if !evaluated(t.Family) {
			continue
		}
		named, err := conn.GetNamedObjects(t)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("nftables: objects of %s: %w", firewall.TableName(t.Family, t.Name), err)
		}
		for _, o := range named {
			if n, ok := o.(*nftables.NamedObj); ok {
				objs = append(objs, firewall.Object{Family: t.Family, Table: t.Name, Name: n.Name, Obj: n.Obj})
			}
		}
		ss, err := conn.GetSets(t)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("nftables: sets of %s: %w", firewall.TableName(t.Family, t.Name), err)
		}
		for _, s := range ss {
			els, err := conn.GetSetElements(s)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("nftables: elements of %s %s: %w", firewall.TableName(t.Family, t.Name), s.Name, err)
			}
			if isVerdictMap(s) {
				decodeVerdicts(els)
			}
			sets = append(sets, firewall.Set{Family: t.Family, Table: t.Name, Name: s.Name, ID: s.ID, Interval: s.Interval,
				Map: s.IsMap, Concat: s.Concatenation, Elements: els})
		}
	}
	list, err := conn.ListChains()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nftables: list chains: %w", err)
	}
	var chains []firewall.Chain
	for _, c := range list {
		if c.Table == nil || !evaluated(c.Table.Family) {
			continue
		}
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("nftables: rules of %s %s: %w", firewall.TableName(c.Table.Family, c.Table.Name), c.Name, err)
		}
		ch := firewall.Chain{Family: c.Table.Family, Table: c.Table.Name, Name: c.Name, Type: c.Type}
		if c.Hooknum != nil {
			ch.Base, ch.Hook = true, firewall.Hook(*c.Hooknum)
			ch.Devices = devices[firewall.TableName(c.Table.Family, c.Table.Name)+" "+c.Name]
			switch {
			case c.Table.Family == nftables.TableFamilyNetdev && ch.Hook == 0,
				c.Table.Family == nftables.TableFamilyINet && ch.Hook == nfInetIngress:
				ch.Hook = firewall.HookIngress
			case c.Table.Family == nftables.TableFamilyNetdev && ch.Hook == 1:
				ch.Hook = firewall.HookEgress
			}
			if c.Priority != nil {
				ch.Priority = int32(*c.Priority)
			}
			ch.Drop = c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop
		}
		key := firewall.TableName(c.Table.Family, c.Table.Name) + " " + c.Name
		for _, r := range rules {
			ch.Rules = append(ch.Rules, firewall.Rule{Handle: r.Handle, Exprs: r.Exprs,
				Missing: missingExprs(r.Exprs, exprNames[ruleKey{key, r.Handle}])})
		}
		chains = append(chains, ch)
	}
	return chains, sets, objs, nil
}
