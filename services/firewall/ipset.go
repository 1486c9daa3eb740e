package firewall

import "net/netip"

// IPSet is an ipset (ipset(8)) of a namespace, which iptables' set match
// ("-m set --match-set NAME src") refers to by its kernel index.
type IPSet struct {
	Name    string
	Index   uint16
	Type    string // "hash:net", "hash:ip,port", "bitmap:port", "list:set", …
	Family  uint8  // NFPROTO_IPV4 or NFPROTO_IPV6; 0 for list:set
	Members []IPSetMember
}

// IPSetMember is one entry of an ipset, with the dimensions its type has.
type IPSetMember struct {
	Addr    netip.Prefix // an address or network; invalid where the type has none
	Proto   uint8        // with a port: its transport protocol
	Port    uint16
	HasPort bool
	Set     string // list:set: the member set's name
	NoMatch bool   // an exception: "nomatch" carves it out of a wider network
	Timeout uint32 // seconds until it expires; 0: it does not
	// Other is set when the entry has a dimension the evaluator does not
	// follow (a second address, an interface, a MAC, a mark).
	Other bool
}
