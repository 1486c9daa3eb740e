package sockets

// Query narrows a collection. The zero Query asks for every TCP and UDP
// socket of both IP versions in every state.
type Query struct {
	TCP, UDP      bool // protocols; neither set means both
	IPv4, IPv6    bool // versions; neither set means both
	ListeningOnly bool // TCP listeners and unconnected UDP sockets only
	// NetNS picks the network namespaces to read; the zero value reads
	// every one.
	NetNS NetNSFilter
	// Fresh reads everything again: no table or owner a collector kept
	// from earlier collections is trusted.
	Fresh bool
}

func (q Query) wantsTCP() bool { return q.TCP || !q.UDP }
func (q Query) wantsUDP() bool { return q.UDP || !q.TCP }
func (q Query) wants4() bool   { return q.IPv4 || !q.IPv6 }
func (q Query) wants6() bool   { return q.IPv6 || !q.IPv4 }

// Collector takes snapshots of the machine's sockets. A Collector may cache
// process details between calls; it is not safe for concurrent use.
type Collector interface {
	Collect(q Query) (*Snapshot, error)
}
