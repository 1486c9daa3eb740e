// Package block keeps peers out for a while: elements with a timeout in
// sets of portwarden's own nftables table (inet portwarden), changed
// atomically and under a lock, so the admin's own tables are never
// touched.
package block

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// BlockTable is the nftables table (family inet) that holds portwarden's
// blocks: the admin's own tables are never touched.
const BlockTable = "portwarden"

// Block stops new and existing traffic from a peer (an address or a
// prefix) to this host and what it forwards, on every port or on one.
type Block struct {
	Peer  netip.Prefix
	Proto sockets.Proto // TCP or UDP with Port; 0 for every port
	Port  uint16        // 0: every port
	// For is how long the block was set for; 0 until unblocked.
	For time.Duration
	// Left is how long it still holds (as the kernel counts); 0 with For 0.
	Left time.Duration
}

// String writes the block as the admin named it: "198.51.100.7",
// "2001:db8::/48 tcp/22".
func (b Block) String() string {
	s := PeerString(b.Peer)
	if b.Port != 0 {
		s += " " + b.Proto.String() + "/" + strconv.Itoa(int(b.Port))
	}
	return s
}

// Until says how long the block still holds: "until unblocked", or
// "for 9m58s more".
func (b Block) Until() string {
	if b.For == 0 {
		return "until unblocked"
	}
	return "for " + b.Left.Round(time.Second).String() + " more"
}

// UntilFrom says when the block ends, read at now: "until unblocked", or
// "until 14:07:31 (9m58s more)"; the date too when not today.
func (b Block) UntilFrom(now time.Time) string {
	if b.For == 0 {
		return "until unblocked"
	}
	end := now.Add(b.Left)
	layout := "15:04:05"
	if end.YearDay() != now.YearDay() || end.Year() != now.Year() {
		layout = "2006-01-02 15:04:05"
	}
	return "until " + end.Format(layout) + " (" + b.Left.Round(time.Second).String() + " more)"
}

// Covers reports whether the block stops packets from addr to port (0:
// any) over proto.
func (b Block) Covers(addr netip.Addr, proto sockets.Proto, port uint16) bool {
	if !b.Peer.Contains(addr.WithZone("").Unmap()) {
		return false
	}
	return b.Port == 0 || (b.Proto == proto && b.Port == port)
}

// PeerString writes an address alone, a prefix with its length.
func PeerString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// ParsePeer reads an address or a prefix ("198.51.100.7",
// "2001:db8::/48"); an IPv4-mapped address is taken as IPv4.
func ParsePeer(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or a prefix (like 198.51.100.7 or 2001:db8::/48)", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a prefix (like 198.51.100.7 or 2001:db8::/48)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangePrefix is the prefix that runs from first to last, when one does.
func rangePrefix(first, last netip.Addr) (netip.Prefix, bool) {
	for bits := 0; bits <= first.BitLen(); bits++ {
		if p := netip.PrefixFrom(first, bits); p.Masked().Addr() == first && lastOf(p) == last {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
