package kernel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/portwarden/portwarden/services/firewall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/internal/netns"
)

// Legacy is what a namespace's iptables-legacy tables hold.
type Legacy struct {
	Chains []firewall.Chain
	// Sum changes when the tables do: x_tables has no generation number.
	Sum uint64
}

// ReadLegacy reads the rules of the namespace's iptables-legacy tables
// (LegacyTables' names: "filter", "ip6:nat", …) through x_tables'
// getsockopt, on a thread moved into the namespace, as chains the
// evaluator follows like nftables ones: tables "legacy filter" and so on,
// each rule numbered as "iptables -L --line-numbers" shows it. It needs
// CAP_NET_RAW.
func ReadLegacy(nsPath string, tables []string) (*Legacy, error) {
	out := &Legacy{}
	sum := fnv.New64a()
	err := netns.Do(nsPath, func() error {
		for _, t := range tables {
			family, name := legacyFamily(t)
			lt, err := readLegacyTable(family, name)
			if err != nil {
				return fmt.Errorf("iptables-legacy table %s: %w", t, err)
			}
			chains, err := lt.chains()
			if err != nil {
				return fmt.Errorf("iptables-legacy table %s: %w", t, err)
			}
			out.Chains = append(out.Chains, chains...)
			sum.Write([]byte(t))
			sum.Write(lt.blob)
		}
		return nil
	})
	out.Sum = sum.Sum64()
	return out, err
}

// legacyTable is one table as x_tables gives it.
type legacyTable struct {
	v6                   bool
	name                 string
	validHooks           uint32
	hookEntry, underflow [5]uint32
	blob                 []byte
}

func readLegacyTable(family int, name string) (*legacyTable, error) {
	if len(name) >= xtTableMaxName {
		return nil, fmt.Errorf("table name too long")
	}
	level := unix.SOL_IP
	if family == unix.AF_INET6 {
		level = unix.SOL_IPV6
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	info := make([]byte, xtGetInfoLen)
	copy(info, name)
	if err := getsockopt(fd, level, xtSoGetInfo, info); err != nil {
		return nil, err
	}
	t := &legacyTable{v6: family == unix.AF_INET6, name: name, validHooks: binary.NativeEndian.Uint32(info[32:])}
	for h := range 5 {
		t.hookEntry[h] = binary.NativeEndian.Uint32(info[36+4*h:])
		t.underflow[h] = binary.NativeEndian.Uint32(info[56+4*h:])
	}
	size := binary.NativeEndian.Uint32(info[80:])
	entries := make([]byte, xtEntriesAt+size)
	copy(entries, name)
	binary.NativeEndian.PutUint32(entries[32:], size)
	if err := getsockopt(fd, level, xtSoGetEntries, entries); err != nil {
		return nil, err
	}
	t.blob = entries[xtEntriesAt:]
	return t, nil
}

// The layout of struct ipt_entry and ip6t_entry.
type entryLayout struct {
	size, targetOffsetAt, nextOffsetAt int
	proto, flags, invflags             int // offsets in the ip header
}

var (
	ipt  = entryLayout{size: 112, targetOffsetAt: 88, nextOffsetAt: 90, proto: 80, flags: 82, invflags: 83}
	ip6t = entryLayout{size: 168, targetOffsetAt: 140, nextOffsetAt: 142, proto: 128, flags: 131, invflags: 132}
)

// legacyEntry is one rule (or chain marker) of a table.
type legacyEntry struct {
	off, next int
	b         []byte // the whole entry
	target    string // "" for a standard verdict
	rev       uint8
	data      []byte // the target's data
}

// Standard verdicts as x_tables stores them (negative: -verdict - 1).
const (
	xtDrop   = -1 // -NF_DROP - 1
	xtAccept = -2 // -NF_ACCEPT - 1
	xtReturn = -5 // -NF_REPEAT - 1
)

var legacyHooks = [5]string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}

// legacyPriority is each table's place at a hook, as iptables-legacy
// registers it (NF_IP_PRI_*).
var legacyPriority = map[string]int32{"raw": -300, "mangle": -150, "nat": -100, "filter": 0, "security": 50}

func (t *legacyTable) layout() entryLayout {
	if t.v6 {
		return ip6t
	}
	return ipt
}

// entries walks the table's entries.
func (t *legacyTable) entries() ([]legacyEntry, error) {
	l := t.layout()
	var out []legacyEntry
	for off := 0; off < len(t.blob); {
		if off+l.size > len(t.blob) {
			return nil, fmt.Errorf("an entry runs past the table at %d", off)
		}
		e := legacyEntry{off: off}
		tOff := int(binary.NativeEndian.Uint16(t.blob[off+l.targetOffsetAt:]))
		next := int(binary.NativeEndian.Uint16(t.blob[off+l.nextOffsetAt:]))
		if next < l.size || off+next > len(t.blob) || tOff < l.size || tOff+xtTargetHeaderLen > next {
			return nil, fmt.Errorf("a malformed entry at %d", off)
		}
		e.next, e.b = off+next, t.blob[off:off+next]
		tgt := e.b[tOff:]
		tSize := int(binary.NativeEndian.Uint16(tgt))
		if tSize < xtTargetHeaderLen || tSize > len(tgt) {
			return nil, fmt.Errorf("a malformed target at %d", off)
		}
		e.target = string(bytes.TrimRight(tgt[2:31], "\x00"))
		e.rev = tgt[31]
		e.data = tgt[xtTargetHeaderLen:tSize]
		out = append(out, e)
		off = e.next
	}
	return out, nil
}

// chains turns the table into chains: the built-in ones from their hook
// entry to their policy, and each user chain after its ERROR marker.
func (t *legacyTable) chains() ([]firewall.Chain, error) {
	entries, err := t.entries()
	if err != nil {
		return nil, err
	}
	family := nftables.TableFamilyIPv4
	if t.v6 {
		family = nftables.TableFamilyIPv6
	}
	table := "legacy " + t.name
	typ := nftables.ChainTypeFilter
	if t.name == "nat" {
		typ = nftables.ChainTypeNAT
	}
	// User chains begin after an ERROR entry that names them.
	chainAt := map[int]string{}
	for i, e := range entries {
		if e.target == "ERROR" && i+1 < len(entries) {
			chainAt[entries[i+1].off] = cString(e.data)
		}
	}
	var out []firewall.Chain
	for h := range 5 {
		if t.validHooks&(1<<h) == 0 {
			continue
		}
		c := firewall.Chain{Family: family, Table: table, Name: legacyHooks[h], Base: true, Hook: firewall.Hook(h),
			Priority: legacyPriority[t.name], Type: typ}
		for _, e := range entries {
			switch {
			case e.off < int(t.hookEntry[h]) || e.off > int(t.underflow[h]):
			case e.off == int(t.underflow[h]):
				c.Drop = e.target == "" && int32(binary.NativeEndian.Uint32(e.data)) == xtDrop
			default:
				c.Rules = append(c.Rules, t.rule(len(c.Rules)+1, e, chainAt))
			}
		}
		out = append(out, c)
	}
	for i, e := range entries {
		name := cString(e.data)
		if e.target != "ERROR" || name == "ERROR" {
			continue
		}
		c := firewall.Chain{Family: family, Table: table, Name: name, Type: typ}
		for _, r := range entries[i+1:] {
			if r.target == "ERROR" {
				break
			}
			c.Rules = append(c.Rules, t.rule(len(c.Rules)+1, r, chainAt))
		}
		// The chain's last entry is iptables' own RETURN: falling off does
		// the same.
		if n := len(c.Rules); n > 0 && len(c.Rules[n-1].Exprs) == 1 {
			if v, ok := c.Rules[n-1].Exprs[0].(*expr.Verdict); ok && v.Kind == expr.VerdictReturn {
				c.Rules = c.Rules[:n-1]
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// rule turns one entry into the expressions nft would hold for it.
func (t *legacyTable) rule(n int, e legacyEntry, chainAt map[int]string) firewall.Rule {
	l := t.layout()
	r := firewall.Rule{Handle: uint64(n)}
	add := func(x ...expr.Any) { r.Exprs = append(r.Exprs, x...) }
	missing := func(name string) { r.Missing = append(r.Missing, firewall.Missing{Before: len(r.Exprs), Name: name}) }
	ip := e.b[:l.size]
	flags, inv := ip[l.flags], ip[l.invflags]
	cmpOp := func(invBit byte) expr.CmpOp {
		if inv&invBit != 0 {
			return expr.CmpOpNeq
		}
		return expr.CmpOpEq
	}
	// addresses: src, dst, smsk, dmsk
	size, at := 4, [4]int{0, 4, 8, 12}
	if t.v6 {
		size, at = 16, [4]int{0, 16, 32, 48}
	}
	netOff := [2]uint32{12, 16}
	if t.v6 {
		netOff = [2]uint32{8, 24}
	}
	for i, invBit := range []byte{0x08, 0x10} { // IPT_INV_SRCIP, IPT_INV_DSTIP
		mask := ip[at[2+i] : at[2+i]+size]
		if allZero(mask) {
			continue
		}
		add(&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: netOff[i], Len: uint32(size), DestRegister: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(size), Mask: bytes.Clone(mask), Xor: make([]byte, size)},
			&expr.Cmp{Op: cmpOp(invBit), Register: 1, Data: andBytes(ip[at[i]:at[i]+size], mask)})
	}
	ifAt := [4]int{16, 32, 48, 64} // iniface, outiface, and their masks
	if t.v6 {
		ifAt = [4]int{64, 80, 96, 112}
	}
	for i, key := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		name, mask := ip[ifAt[i]:ifAt[i]+16], ip[ifAt[2+i]:ifAt[2+i]+16]
		n := 0
		for n < 16 && mask[n] != 0 {
			n++
		}
		if n == 0 {
			continue
		}
		add(&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: cmpOp(byte(1 << i)), Register: 1, Data: bytes.Clone(name[:n])})
	}
	proto := binary.NativeEndian.Uint16(ip[l.proto:])
	hasProto := proto != 0 && (!t.v6 || flags&0x01 != 0) // IP6T_F_PROTO
	if hasProto {
		add(&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: cmpOp(0x40), Register: 1, Data: []byte{byte(proto)}})
	}
	switch {
	case !t.v6 && flags&0x01 != 0: // IPT_F_FRAG: fragments only
		missing("a fragment match (-f)")
	case t.v6 && flags&0x02 != 0: // IP6T_F_TOS
		missing("a traffic class match")
	}
	// matches, between the header and the target
	tOff := int(binary.NativeEndian.Uint16(e.b[l.targetOffsetAt:]))
	fam := xt.TableFamily(unix.NFPROTO_IPV4)
	if t.v6 {
		fam = xt.TableFamily(unix.NFPROTO_IPV6)
	}
	for m := e.b[l.size:tOff]; len(m) >= xtTargetHeaderLen; {
		msize := int(binary.NativeEndian.Uint16(m))
		if msize < xtTargetHeaderLen || msize > len(m) {
			missing("a malformed match")
			break
		}
		name, rev, data := string(bytes.TrimRight(m[2:31], "\x00")), m[31], m[xtTargetHeaderLen:msize]
		info, err := xt.Unmarshal(name, fam, uint32(rev), data)
		if err != nil {
			u := xt.Unknown(bytes.Clone(data))
			info = &u
		}
		add(&expr.Match{Name: name, Rev: uint32(rev), Info: info})
		m = m[msize:]
	}
	goTo := !t.v6 && flags&0x08 != 0 || t.v6 && flags&0x04 != 0 // IPT_F_GOTO, IP6T_F_GOTO
	switch e.target {
	case "":
		if len(e.data) < 4 {
			missing("a malformed verdict")
			break
		}
		switch v := int32(binary.NativeEndian.Uint32(e.data)); {
		case v == xtAccept:
			add(&expr.Verdict{Kind: expr.VerdictAccept})
		case v == xtDrop:
			add(&expr.Verdict{Kind: expr.VerdictDrop})
		case v == xtReturn:
			add(&expr.Verdict{Kind: expr.VerdictReturn})
		case v >= 0 && int(v) == e.next:
			// no target: on to the next rule
		case v >= 0 && chainAt[int(v)] != "":
			kind := expr.VerdictJump
			if goTo {
				kind = expr.VerdictGoto
			}
			add(&expr.Verdict{Kind: kind, Chain: chainAt[int(v)]})
		default:
			missing("verdict " + fmt.Sprint(v))
		}
	case "CT":
		// struct xt_ct_target_info: u16 flags first; XT_CT_NOTRACK = 1.
		if len(e.data) >= 2 && binary.NativeEndian.Uint16(e.data)&1 != 0 {
			add(&expr.Notrack{})
		} else {
			add(&expr.Target{Name: e.target, Rev: uint32(e.rev), Info: nil})
		}
	case "NOTRACK":
		add(&expr.Notrack{})
	default:
		info, err := xt.Unmarshal(e.target, fam, uint32(e.rev), e.data)
		if err != nil {
			u := xt.Unknown(bytes.Clone(e.data))
			info = &u
		}
		add(&expr.Target{Name: e.target, Rev: uint32(e.rev), Info: info})
	}
	return r
}

func andBytes(a, mask []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] & mask[i]
	}
	return out
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
