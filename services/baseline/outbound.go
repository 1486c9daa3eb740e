package baseline

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// Outbound documents where this host is expected to connect out: a
// network, and a port (0: any). Once a baseline documents one, outbound
// connections to external addresses it does not cover fail check.
type Outbound struct {
	Proto  string    `toml:"proto,omitempty"` // tcp or udp; "" for both
	To     string    `toml:"to"`              // a network in CIDR form, or an address
	Port   uint16    `toml:"port,omitempty"`
	Reason string    `toml:"reason"`
	Owner  string    `toml:"owner"`
	Added  time.Time `toml:"added"`
	to     netip.Prefix
}

// Covers reports whether o documents connection s's peer.
func (o *Outbound) Covers(s *sockets.Socket) bool {
	return (o.Proto == "" || o.Proto == s.Proto.String()) && (o.Port == 0 || o.Port == s.Remote.Port()) &&
		o.to.Contains(s.Remote.Addr().WithZone("").Unmap())
}

// Key renders what the entry covers, as "tcp to 198.51.100.0/24 port 443".
func (o *Outbound) Key() string {
	s := "to " + o.To
	if o.Proto != "" {
		s = o.Proto + " " + s
	}
	if o.Port != 0 {
		s += " port " + strconv.Itoa(int(o.Port))
	}
	return s
}

// MatchOutbound returns the first outbound entry covering connection s's
// peer, or nil.
func (b *Baseline) MatchOutbound(s *sockets.Socket) *Outbound {
	for i := range b.Outbound {
		if b.Outbound[i].Covers(s) {
			return &b.Outbound[i]
		}
	}
	return nil
}
