//go:build linux

package block

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/portwarden/portwarden/sockets"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/firewall/kernel"
	"golang.org/x/sys/unix"
)

// The sets of the block table: peers blocked on every port, and peers
// blocked on one port (address . protocol . port), by IP version. All
// hold prefixes (interval) with a timeout per element.
const (
	setAll4  = "peers4"
	setAll6  = "peers6"
	setPort4 = "ports4"
	setPort6 = "ports6"
)

// blockPriority puts the block chains before the usual filter chains
// (priority 0, ufw's and firewalld's included), so a block holds whatever
// they accept.
const blockPriority = -10

// Blocker writes and reads the block table of one network namespace.
type Blocker struct {
	// NSPath is the namespace's file (/proc/PID/ns/net); "" for
	// portwarden's own.
	NSPath string
}

func (b Blocker) conn() (*nftables.Conn, func(), error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	var f *os.File
	if b.NSPath != "" {
		var err error
		if f, err = os.Open(b.NSPath); err != nil {
			return nil, nil, err
		}
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, nil, fmt.Errorf("nftables: %w", err)
	}
	return c, func() {
		c.CloseLasting()
		if f != nil {
			f.Close()
		}
	}, nil
}

var blockTable = &nftables.Table{Family: nftables.TableFamilyINet, Name: BlockTable}

// blockSets describes the four sets, made when the table is.
func blockSets() []*nftables.Set {
	port4, _ := nftables.ConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	port6, _ := nftables.ConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService)
	return []*nftables.Set{
		{Table: blockTable, Name: setAll4, KeyType: nftables.TypeIPAddr, Interval: true, HasTimeout: true},
		{Table: blockTable, Name: setAll6, KeyType: nftables.TypeIP6Addr, Interval: true, HasTimeout: true},
		{Table: blockTable, Name: setPort4, KeyType: port4, Interval: true, HasTimeout: true, Concatenation: true},
		{Table: blockTable, Name: setPort6, KeyType: port6, Interval: true, HasTimeout: true, Concatenation: true},
	}
}

// ensure makes the table, its sets and its two chains (input, forward),
// each dropping what a set holds, unless the table is there already. The
// whole table is made in one batch that fails if the table exists
// (NLM_F_EXCL): two makers never both add rules.
func ensure(c *nftables.Conn) error {
	if exists, err := tableExists(c); err != nil || exists {
		return err
	}
	c.CreateTable(blockTable)
	sets := blockSets()
	for _, s := range sets {
		if err := c.AddSet(s, nil); err != nil {
			return fmt.Errorf("nftables: set %s: %w", s.Name, err)
		}
	}
	accept := nftables.ChainPolicyAccept
	prio := nftables.ChainPriority(blockPriority)
	for _, hook := range []*nftables.ChainHook{nftables.ChainHookInput, nftables.ChainHookForward} {
		name := "input"
		if hook == nftables.ChainHookForward {
			name = "forward"
		}
		ch := c.AddChain(&nftables.Chain{Name: name, Table: blockTable, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: &prio, Policy: &accept})
		for _, r := range [][]expr.Any{
			dropFrom(unix.NFPROTO_IPV4, 12, 4, sets[0], false),
			dropFrom(unix.NFPROTO_IPV6, 8, 16, sets[1], false),
			dropFrom(unix.NFPROTO_IPV4, 12, 4, sets[2], true),
			dropFrom(unix.NFPROTO_IPV6, 8, 16, sets[3], true),
		} {
			c.AddRule(&nftables.Rule{Table: blockTable, Chain: ch, Exprs: r})
		}
	}
	if err := c.Flush(); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("nftables: make table inet %s: %w", BlockTable, kernel.NetfilterErr(err))
	}
	return nil
}

// tableExists asks whether the block table is there: a missing table is
// false, a refusal to read is an error (never "nothing is blocked").
func tableExists(c *nftables.Conn) (bool, error) {
	_, err := c.ListTableOfFamily(BlockTable, nftables.TableFamilyINet)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("nftables: read table inet %s: %w", BlockTable, kernel.NetfilterErr(err))
}

// lockPath is where portwarden processes take turns changing the block
// table: a lock file on the /run tmpfs, gone at reboot like the blocks.
const lockPath = "/run/lock/portwarden-block.lock"

// lock serialises the changes portwarden processes make to the block
// table (an flock, released when the process ends).
func lock() (unlock func(), err error) {
	dir := filepath.Dir(lockPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("block lock: %w", err)
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if os.IsPermission(err) {
		return nil, fmt.Errorf("%w (the block lock %s: %v)", kernel.ErrNoPermission, lockPath, err)
	} else if err != nil {
		return nil, fmt.Errorf("block lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("block lock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}

// dropFrom is "ip saddr @set drop", or with port, "ip saddr . meta
// l4proto . th dport @set drop": the source address and the rest loaded
// into consecutive 32-bit registers, as nft does for a concatenation.
func dropFrom(nfproto byte, offset, size uint32, set *nftables.Set, port bool) []expr.Any {
	const reg = 8 // NFT_REG32_00
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}},
		&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: size, DestRegister: reg},
	}
	if port {
		next := reg + size/4
		exprs = append(exprs,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: next},
			&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: next + 1})
	}
	return append(exprs, &expr.Lookup{SourceRegister: reg, SetName: set.Name}, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// Block adds blk to the namespace's block table, making the table on
// first use. A peer blocked already is blocked again for the new time.
func (b Blocker) Block(blk Block) error {
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, done, err := b.conn()
	if err != nil {
		return err
	}
	defer done()
	if err := ensure(c); err != nil {
		return err
	}
	set, els := elementsOf(blk)
	set.Table = blockTable
	// A block in place already is replaced, so that the new time holds
	// (adding an element that exists changes nothing).
	existing, _, err := list(c)
	if err != nil {
		return err
	}
	for _, old := range existing {
		if old.Peer == blk.Peer.Masked() && old.Proto == blk.Proto && old.Port == blk.Port {
			_, oldEls := elementsOf(old)
			if err := c.SetDeleteElements(set, oldEls); err != nil {
				return fmt.Errorf("nftables: %w", err)
			}
		}
	}
	if err := c.SetAddElements(set, els); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add to set %s: %w", set.Name, kernel.NetfilterErr(err))
	}
	return nil
}

// elementsOf is the set and the elements that hold blk: a concatenated
// set takes a range as one element with its end; a plain interval set as
// a start and an end element one past the range (none when the range
// runs to the last address).
func elementsOf(blk Block) (*nftables.Set, []nftables.SetElement) {
	p := blk.Peer.Masked()
	first, last := p.Addr().AsSlice(), lastOf(p)
	sets := blockSets()
	v6 := 0
	if p.Addr().Is6() {
		v6 = 1
	}
	if blk.Port != 0 {
		proto := byte(unix.IPPROTO_TCP)
		if blk.Proto == sockets.UDP {
			proto = unix.IPPROTO_UDP
		}
		tail := []byte{proto, 0, 0, 0, byte(blk.Port >> 8), byte(blk.Port), 0, 0}
		return sets[2+v6], []nftables.SetElement{{Key: append(first, tail...), KeyEnd: append(last.AsSlice(), tail...), Timeout: blk.For}}
	}
	els := []nftables.SetElement{{Key: first, Timeout: blk.For}}
	if end := last.Next(); end.IsValid() {
		els = append(els, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
	}
	return sets[v6], els
}

// Unblock removes the blocks of peer (on every port and on single ports);
// with all, it removes the whole table, as it does when the last block is
// lifted. It returns how many blocks went.
func (b Blocker) Unblock(peer netip.Prefix, all bool) (int, error) {
	unlock, err := lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	c, done, err := b.conn()
	if err != nil {
		return 0, err
	}
	defer done()
	blocks, exists, err := list(c)
	if err != nil || !exists {
		return 0, err // no table: nothing to remove
	}
	n := 0
	for _, blk := range blocks {
		if all || blk.Peer == peer.Masked() {
			n++
		}
	}
	if all || n == len(blocks) {
		c.DelTable(blockTable)
		if err := c.Flush(); err != nil {
			return 0, fmt.Errorf("nftables: delete table inet %s: %w", BlockTable, kernel.NetfilterErr(err))
		}
		return n, nil
	}
	for _, blk := range blocks {
		if blk.Peer != peer.Masked() {
			continue
		}
		set, els := elementsOf(blk)
		set.Table = blockTable
		if err := c.SetDeleteElements(set, els); err != nil {
			return 0, fmt.Errorf("nftables: %w", err)
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := c.Flush(); err != nil {
		return 0, fmt.Errorf("nftables: remove from the block sets: %w", kernel.NetfilterErr(err))
	}
	return n, nil
}

// List reads the blocks in place, with the time each has left.
func (b Blocker) List() ([]Block, error) {
	c, done, err := b.conn()
	if err != nil {
		return nil, err
	}
	defer done()
	blocks, _, err := list(c)
	return blocks, err
}

// list reads the blocks over c; exists is false when there is no table.
func list(c *nftables.Conn) (blocks []Block, exists bool, err error) {
	if exists, err := tableExists(c); err != nil || !exists {
		return nil, false, err
	}
	var out []Block
	for _, s := range blockSets() {
		s.Table = blockTable
		els, err := c.GetSetElements(s)
		if err != nil {
			return nil, true, fmt.Errorf("nftables: read set %s: %w", s.Name, kernel.NetfilterErr(err))
		}
		out = append(out, blocksOf(s.Name, els)...)
	}
	slices.SortFunc(out, func(a, b Block) int { return a.Peer.Addr().Compare(b.Peer.Addr()) })
	return out, true, nil
}

// blocksOf turns a set's elements back into blocks: a concatenated set's
// elements carry their end; a plain interval set's come as start and end
// elements, in no promised order.
func blocksOf(set string, els []nftables.SetElement) []Block {
	size := 4
	if set == setAll6 || set == setPort6 {
		size = 16
	}
	concat := set == setPort4 || set == setPort6
	if !concat {
		// Adjacent blocks meet: at one key the end comes first.
		slices.SortFunc(els, firewall.CompareElements)
	}
	var out []Block
	for i, e := range els {
		if e.IntervalEnd || len(e.Key) < size {
			continue
		}
		first, _ := netip.AddrFromSlice(e.Key[:size])
		var last netip.Addr
		switch {
		case concat && len(e.KeyEnd) >= size:
			last, _ = netip.AddrFromSlice(e.KeyEnd[:size])
		case concat:
			last = first
		case i+1 < len(els) && els[i+1].IntervalEnd:
			end, _ := netip.AddrFromSlice(els[i+1].Key)
			last = end.Prev()
		default:
			last = lastOf(netip.PrefixFrom(first, 0))
		}
		p, ok := rangePrefix(first, last)
		if !ok {
			continue
		}
		blk := Block{Peer: p, For: e.Timeout, Left: e.Expires}
		if concat && len(e.Key) >= size+8 {
			blk.Proto = sockets.Proto(e.Key[size])
			blk.Port = uint16(e.Key[size+4])<<8 | uint16(e.Key[size+5])
		}
		if blk.For == 0 {
			blk.Left = 0
		} else if blk.Left == 0 {
			blk.Left = time.Millisecond // about to go
		}
		out = append(out, blk)
	}
	return out
}
