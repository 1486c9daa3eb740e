package ui

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The filter: words that must all appear in a row (as typed, any case),
// and field terms that must match a field exactly — peer:ADDR or
// peer:NETWORK, port:N, process:NAME, ns:NAME — so that
// "peer:198.51.100.1 port:22" means that peer on that port, not port 224.
// A word with another prefix ("2001:db8::1") is a word.

// rowFields are what field terms match, for the rows that have them.
type rowFields struct {
	peer    netip.Addr
	ports   []uint16
	process []string // lower case
	ns      string   // lower case: the container or namespace label
}

// filterQuery is the parsed filter.
type filterQuery struct {
	words  []string // lower case
	peers  []netip.Prefix
	ports  []uint16
	procs  []string
	spaces []string
	bad    bool // a field term whose value is not one (port:ssh): nothing matches
}

func (q filterQuery) empty() bool {
	return len(q.words) == 0 && len(q.peers) == 0 && len(q.ports) == 0 && len(q.procs) == 0 && len(q.spaces) == 0 && !q.bad
}

// hasFields reports whether the query names a field.
func (q filterQuery) hasFields() bool {
	return len(q.peers)+len(q.ports)+len(q.procs)+len(q.spaces) > 0 || q.bad
}

// parseFilter reads what the admin typed.
func parseFilter(text string) filterQuery {
	var q filterQuery
	for _, term := range strings.Fields(strings.ToLower(text)) {
		key, value, ok := strings.Cut(term, ":")
		if !ok || value == "" {
			q.words = append(q.words, term)
			continue
		}
		switch key {
		case "peer":
			if p, err := netip.ParsePrefix(value); err == nil {
				q.peers = append(q.peers, p.Masked())
			} else if a, err := netip.ParseAddr(value); err == nil {
				q.peers = append(q.peers, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			} else {
				q.bad = true
			}
		case "port":
			if n, err := strconv.ParseUint(value, 10, 16); err == nil {
				q.ports = append(q.ports, uint16(n))
			} else {
				q.bad = true
			}
		case "process":
			q.procs = append(q.procs, value)
		case "ns":
			q.spaces = append(q.spaces, value)
		default:
			q.words = append(q.words, term)
		}
	}
	return q
}

// matches reports whether r passes the filter.
func (q filterQuery) matches(r *row) bool {
	for _, w := range q.words {
		if !strings.Contains(r.search, w) {
			return false
		}
	}
	if !q.hasFields() {
		return true
	}
	f := r.fields
	if f == nil {
		f = derivedFields(&r.sortKeys)
	}
	if q.bad {
		return false
	}
	for _, p := range q.peers {
		if !f.peer.IsValid() || !p.Contains(f.peer.Unmap()) {
			return false
		}
	}
	for _, port := range q.ports {
		if !slices.Contains(f.ports, port) {
			return false
		}
	}
	for _, name := range q.procs {
		if !slices.Contains(f.process, name) {
			return false
		}
	}
	for _, ns := range q.spaces {
		if f.ns != ns {
			return false
		}
	}
	return true
}

// derivedFields reads a row's fields from what it sorts by: the peer is
// its remote address, the ports both ends', the processes its PROCESS
// cell's names, the namespace its WHERE. Rows pay for them only while a
// field term filters.
func derivedFields(k *sortKeys) *rowFields {
	f := &rowFields{ns: strings.ToLower(k.where), process: processNames(strings.Split(k.process, ",")...)}
	if a := k.remote.Addr(); a.IsValid() && !a.IsUnspecified() {
		f.peer = a.Unmap()
	}
	for _, p := range []uint16{k.local.Port(), k.remote.Port()} {
		if p != 0 {
			f.ports = append(f.ports, p)
		}
	}
	return f
}

// processNames are a row's process names as field terms match them.
func processNames(names ...string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" && n != "-" {
			out = append(out, strings.ToLower(n))
		}
	}
	return out
}
