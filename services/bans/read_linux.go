package bans

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"go4.org/netipx"

	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/firewall/kernel"
)

// Read reads the bans in force in the network namespace nsPath refers to
// ("" for portwarden's own), whose inode is netns: portwarden's blocks,
// the nftables sets and ipsets of the tools this package knows, and any
// other nftables set that a dropping rule matches source addresses on.
// What could not be read is returned as an error beside what could.
func Read(nsPath string, netns uint64, now time.Time) ([]Ban, error) {
	var out []Ban
	var errs []error
	blocks, err := block.Blocker{NSPath: nsPath}.List()
	if err != nil {
		errs = append(errs, fmt.Errorf("portwarden's blocks: %w", err))
	}
	for _, b := range blocks {
		ban := Ban{Peer: b.Peer, By: Portwarden, Set: "inet " + block.BlockTable, Known: true, NetNS: netns}
		if b.For != 0 {
			ban.Expires = now.Add(b.Left)
		}
		out = append(out, ban)
	}
	sets, err := readSets(nsPath, netns, now)
	if err != nil {
		errs = append(errs, err)
	}
	out = append(out, sets...)
	ipsets, _, err := kernel.ReadIPSets(nsPath)
	if err != nil {
		errs = append(errs, fmt.Errorf("ipsets: %w", err))
	}
	out = append(out, fromIPSets(ipsets, netns, now)...)
	return out, errors.Join(errs...)
}

// fromIPSets turns the members of the ipsets of known tools into bans.
func fromIPSets(sets []firewall.IPSet, netns uint64, now time.Time) []Ban {
	var out []Ban
	for _, s := range sets {
		by, jail := ipsetOwner(s.Name)
		if by == "" {
			continue
		}
		for _, m := range s.Members {
			if !m.Addr.IsValid() || m.NoMatch || m.HasPort || m.Other {
				continue
			}
			b := Ban{Peer: m.Addr, By: by, Set: "ipset " + s.Name, Jail: jail, Known: by != SSHGuard && by != Fail2ban, NetNS: netns}
			if m.Timeout > 0 {
				b.Expires, b.Known = now.Add(time.Duration(m.Timeout)*time.Second), true
			}
			out = append(out, b)
		}
	}
	return out
}

// readSets reads the address sets of every nftables table in the
// namespace that a known tool fills or a dropping rule matches.
func readSets(nsPath string, netns uint64, now time.Time) ([]Ban, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if nsPath != "" {
		f, err := os.Open(nsPath)
		if err != nil {
			return nil, fmt.Errorf("nftables: %w", err)
		}
		defer f.Close()
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	defer c.CloseLasting()
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("nftables: list tables: %w", kernel.NetfilterErr(err))
	}
	dropping, err := droppingSets(c)
	if err != nil {
		return nil, err
	}
	var out []Ban
	for _, t := range tables {
		if t.Name == block.BlockTable {
			continue // read as blocks, with their ports
		}
		sets, err := c.GetSets(t)
		if err != nil {
			return out, fmt.Errorf("nftables: sets of %s: %w", firewall.TableName(t.Family, t.Name), kernel.NetfilterErr(err))
		}
		for _, s := range sets {
			by, jail := owner(t.Name, s.Name)
			if by == "" && dropping[setKey{t.Family, t.Name, s.Name}] {
				by = NFTables
			}
			size := s.KeyType.Bytes
			if by == "" || s.IsMap || s.Concatenation || (size != 4 && size != 16) {
				continue
			}
			els, err := c.GetSetElements(s)
			if err != nil {
				return out, fmt.Errorf("nftables: elements of %s %s: %w", firewall.TableName(t.Family, t.Name), s.Name, kernel.NetfilterErr(err))
			}
			name := firewall.TableName(t.Family, t.Name) + " " + s.Name
			for _, e := range addresses(els, int(size), s.Interval) {
				b := Ban{Peer: e.peer, By: by, Set: name, Jail: jail, Known: by != SSHGuard && by != Fail2ban, NetNS: netns}
				if e.timeout > 0 {
					b.Expires, b.Known = now.Add(e.expires), true
				}
				out = append(out, b)
			}
		}
	}
	return out, nil
}

type setKey struct {
	family nftables.TableFamily
	table  string
	set    string
}

// droppingSets finds the named sets a rule looks a packet's source
// address up in and then drops or rejects it ("ip saddr @blocklist drop").
func droppingSets(c *nftables.Conn) (map[setKey]bool, error) {
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("nftables: list chains: %w", kernel.NetfilterErr(err))
	}
	out := map[setKey]bool{}
	for _, ch := range chains {
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return nil, fmt.Errorf("nftables: rules of %s: %w", ch.Name, kernel.NetfilterErr(err))
		}
		for _, r := range rules {
			if set, ok := sourceLookupThenDrop(r.Exprs); ok {
				out[setKey{ch.Table.Family, ch.Table.Name, set}] = true
			}
		}
	}
	return out, nil
}

// sourceLookupThenDrop reports the set a rule's expressions look the
// source address up in, when the rule then drops or rejects.
func sourceLookupThenDrop(exprs []expr.Any) (string, bool) {
	srcReg := map[uint32]bool{}
	set := ""
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Payload:
			src := e.Base == expr.PayloadBaseNetworkHeader &&
				((e.Offset == 12 && e.Len == 4) || (e.Offset == 8 && e.Len == 16))
			srcReg[e.DestRegister] = src
		case *expr.Lookup:
			if srcReg[e.SourceRegister] && !e.Invert && !e.IsDestRegSet {
				set = e.SetName
			}
		case *expr.Verdict:
			if set != "" && e.Kind == expr.VerdictDrop {
				return set, true
			}
		case *expr.Reject:
			if set != "" {
				return set, true
			}
		}
	}
	return "", false
}

type element struct {
	peer             netip.Prefix
	timeout, expires time.Duration
}

// addresses turns a set's elements into prefixes: an interval set's come
// as a start and an end element (the first address past the range).
func addresses(els []nftables.SetElement, size int, interval bool) []element {
	if interval {
		slices.SortFunc(els, firewall.CompareElements)
	}
	var out []element
	for i, e := range els {
		if e.IntervalEnd || len(e.Key) != size {
			continue
		}
		first, _ := netip.AddrFromSlice(e.Key)
		if !interval {
			out = append(out, element{netip.PrefixFrom(first, first.BitLen()), e.Timeout, e.Expires})
			continue
		}
		last := netipx.PrefixLastIP(netip.PrefixFrom(first, 0)) // an open end: to the family's last address
		if i+1 < len(els) && els[i+1].IntervalEnd && len(els[i+1].Key) == size {
			end, _ := netip.AddrFromSlice(els[i+1].Key)
			last = end.Prev()
		}
		for _, p := range netipx.IPRangeFrom(first, last).Prefixes() {
			out = append(out, element{p, e.Timeout, e.Expires})
		}
	}
	return out
}

// Space is a network namespace to read bans in.
type Space struct {
	Path  string // its file; "" for portwarden's own
	Inode uint64
	Label string // how warnings name it
}

// ReadAll reads the bans of every namespace, with fail2ban's expiries
// read once from its database. What could not be read is said in one
// warning per namespace, beside what could.
func ReadAll(spaces []Space, procRoot string, now time.Time) ([]Ban, []string) {
	var out []Ban
	var warnings []string
	for _, s := range spaces {
		bans, err := Read(s.Path, s.Inode, now)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("bans in network namespace %s: %v", s.Label, err))
		}
		out = append(out, bans...)
	}
	if slices.ContainsFunc(out, func(b Ban) bool { return b.By == Fail2ban && !b.Known }) {
		ends, err := Fail2banExpiries(procRoot)
		if err != nil {
			warnings = append(warnings, err.Error())
		}
		withFail2banExpiry(out, ends)
	}
	return out, warnings
}
