package kernel

import (
	"net/netip"

	"github.com/portwarden/portwarden/sockets"
)

// DNAT is a destination NAT rule: new connections to Port (on Dest, or
// on any local address) go to To instead.
type DNAT struct {
	Proto sockets.Proto // TCP or UDP; 0 for both
	Dest  netip.Addr    // invalid: any address
	Port  uint16
	To    netip.AddrPort // To.Port() is 0 when the port is kept
	Rule  string         // "ip nat DOCKER handle 12", for the admin to find it
}
