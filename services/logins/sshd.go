// Package logins counts failed logins per peer from the SSH server's log
// lines, read from /var/log/auth.log, /var/log/secure or the journal.
package logins

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Failures is what one peer tried against one service.
type Failures struct {
	Service string     // "sshd"
	Peer    netip.Addr // the address the log names
	// Count is the failed attempts: each failed authentication, and a
	// connection that ended unauthenticated after naming a user without
	// failing one (a key not accepted, an unknown user).
	Count int
	Users []string // the user names tried, sorted; hostile text
	First time.Time
	Last  time.Time
}

// maxUsers bounds the names kept per peer: a dictionary attack tries
// thousands.
const maxUsers = 64

// maxOpen bounds the connections followed between their first and last
// line; a log that never ends them cannot grow it without limit.
const maxOpen = 16384

// Tally adds log lines up per peer and service.
type Tally struct {
	since  time.Time // lines logged before are not counted
	byPeer map[key]*Failures
	// failed holds the connections with a failed authentication so far:
	// their end line adds nothing more.
	failed map[conn]bool
}

type key struct {
	service string
	peer    netip.Addr
}

type conn struct {
	peer netip.Addr
	port uint16
}

// NewTally returns an empty tally of what is logged from since on.
func NewTally(since time.Time) *Tally {
	return &Tally{since: since, byPeer: map[key]*Failures{}, failed: map[conn]bool{}}
}

// Failures lists every peer's failures, most attempts first.
func (t *Tally) Failures() []Failures {
	out := make([]Failures, 0, len(t.byPeer))
	for _, f := range t.byPeer {
		c := *f
		c.Users = slices.Clone(f.Users)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Failures) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return a.Peer.Compare(b.Peer)
	})
	return out
}

// Of returns the failures of one peer, by service.
func (t *Tally) Of(peer netip.Addr) []Failures {
	var out []Failures
	for k, f := range t.byPeer {
		if k.peer == peer {
			c := *f
			c.Users = slices.Clone(f.Users)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Failures) int { return strings.Compare(a.Service, b.Service) })
	return out
}

// Add reads one message of an SSH server (the text after "sshd[PID]: ")
// logged at when. Lines that say nothing of a failed login are ignored.
func (t *Tally) Add(service, msg string, when time.Time) {
	if when.Before(t.since) {
		return
	}
	switch {
	case strings.HasPrefix(msg, "Failed "):
		// Failed password for [invalid user ]USER from ADDR port N ssh2
		rest := msg[len("Failed "):]
		method, rest, ok := strings.Cut(rest, " for ")
		if !ok || method == "none" {
			return // "none" is a client asking which methods exist
		}
		user, c, ok := userFrom(strings.TrimPrefix(rest, "invalid user "), " from ")
		if !ok {
			return
		}
		t.keep(c)
		t.failed[c] = true
		t.count(service, c.peer, user, when)
	case strings.HasPrefix(msg, "Connection closed by "), strings.HasPrefix(msg, "Disconnected from "):
		// Connection closed by authenticating user root ADDR port N [preauth]
		// Disconnected from invalid user bob ADDR port N [preauth]
		if !strings.HasSuffix(msg, " [preauth]") {
			return
		}
		rest := msg[strings.Index(msg, "by ")+3:]
		if strings.HasPrefix(msg, "Disconnected from ") {
			rest = msg[len("Disconnected from "):]
		}
		rest = strings.TrimSuffix(rest, " [preauth]")
		var named string
		switch {
		case strings.HasPrefix(rest, "authenticating user "):
			named = rest[len("authenticating user "):]
		case strings.HasPrefix(rest, "invalid user "):
			named = rest[len("invalid user "):]
		default:
			return // no user named: not a login attempt
		}
		user, c, ok := userFrom(named, " ")
		if !ok {
			return
		}
		if t.failed[c] {
			delete(t.failed, c) // counted by its Failed lines
			return
		}
		t.count(service, c.peer, user, when)
	}
}

// keep bounds the connections followed.
func (t *Tally) keep(c conn) {
	if len(t.failed) >= maxOpen && !t.failed[c] {
		clear(t.failed)
	}
}

func (t *Tally) count(service string, peer netip.Addr, user string, when time.Time) {
	k := key{service, peer}
	f := t.byPeer[k]
	if f == nil {
		f = &Failures{Service: service, Peer: peer, First: when}
		t.byPeer[k] = f
	}
	f.Count++
	if when.After(f.Last) {
		f.Last = when
	}
	if when.Before(f.First) {
		f.First = when
	}
	if i, found := slices.BinarySearch(f.Users, user); !found && len(f.Users) < maxUsers {
		f.Users = slices.Insert(f.Users, i, user)
	}
}

// userFrom splits "USER<sep>ADDR port N[ …]" at the last separator
// before the address: a user name may hold spaces.
func userFrom(s, sep string) (user string, c conn, ok bool) {
	i := strings.LastIndex(s, " port ")
	if i < 0 {
		return "", conn{}, false
	}
	portText, _, _ := strings.Cut(s[i+len(" port "):], " ")
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", conn{}, false
	}
	head := s[:i]
	j := strings.LastIndex(head, sep)
	if j < 0 {
		return "", conn{}, false
	}
	addr, err := netip.ParseAddr(head[j+len(sep):])
	if err != nil {
		return "", conn{}, false
	}
	return head[:j], conn{addr.Unmap(), uint16(port)}, true
}
