// Package bans reads who is kept out, and by what: portwarden's own
// blocks, and the nftables sets and ipsets that fail2ban, sshguard and
// CrowdSec fill, with each ban's expiry where something keeps one.
package bans

import (
	"net/netip"
	"strings"
	"time"
)

// The banning tools, as Ban.By names them.
const (
	Portwarden = "portwarden"
	Fail2ban   = "fail2ban"
	SSHGuard   = "sshguard"
	CrowdSec   = "crowdsec"
	NFTables   = "nftables" // a set a dropping rule matches source addresses on
	IPSet      = "ipset"
)

// Ban keeps a peer (an address or a network) out of a namespace.
type Ban struct {
	Peer netip.Prefix
	By   string // one of the tools above
	Set  string // "inet f2b-table addr-set-sshd", "ipset f2b-sshd"
	Jail string // fail2ban's jail; "" for other tools
	// Expires is when the ban ends; zero when it does not, or when
	// nothing says (Known).
	Expires time.Time
	// Known is false when the expiry is kept where it cannot be read
	// (sshguard keeps it in memory).
	Known bool
	NetNS uint64 // the namespace's inode
}

// Covers reports whether the ban keeps out addr.
func (b Ban) Covers(addr netip.Addr) bool { return b.Peer.Contains(addr.Unmap()) }

// Until says when the ban ends, read at now: "until 02:10:00", "until
// unbanned", or "expiry unknown".
func (b Ban) Until(now time.Time) string {
	switch {
	case !b.Known:
		return "expiry unknown"
	case b.Expires.IsZero():
		return "until unbanned"
	}
	layout := "15:04:05"
	if b.Expires.YearDay() != now.YearDay() || b.Expires.Year() != now.Year() {
		layout = "2006-01-02 15:04:05"
	}
	return "until " + b.Expires.Local().Format(layout)
}

// String names the ban for the admin: "fail2ban (jail sshd)",
// "sshguard (ip sshguard attackers)".
func (b Ban) String() string {
	if b.Jail != "" {
		return b.By + " (jail " + b.Jail + ")"
	}
	return b.By + " (" + b.Set + ")"
}

// owner names the tool that fills an nftables set by its table and set
// names, and fail2ban's jail: fail2ban's actions make table f2b-table
// with sets addr-set-JAIL and addr6-set-JAIL; sshguard's nft backend
// table sshguard with set attackers; CrowdSec's firewall bouncer table
// crowdsec (crowdsec6) with sets crowdsec-blacklists[-ORIGIN].
func owner(table, set string) (by, jail string) {
	switch {
	case table == "portwarden":
		return Portwarden, ""
	case table == "f2b-table" || strings.HasPrefix(table, "f2b-"):
		for _, p := range []string{"addr-set-", "addr6-set-"} {
			if strings.HasPrefix(set, p) {
				return Fail2ban, set[len(p):]
			}
		}
		return Fail2ban, ""
	case table == "sshguard":
		return SSHGuard, ""
	case strings.HasPrefix(table, "crowdsec") || strings.HasPrefix(set, "crowdsec"):
		return CrowdSec, ""
	}
	return "", ""
}

// ipsetOwner names the tool that fills an ipset by its name: fail2ban's
// ipset actions make f2b-JAIL, sshguard's backend sshguard4 and
// sshguard6, CrowdSec's bouncer crowdsec-blacklists and
// crowdsec6-blacklists.
func ipsetOwner(name string) (by, jail string) {
	switch {
	case strings.HasPrefix(name, "f2b-"):
		return Fail2ban, name[len("f2b-"):]
	case name == "sshguard4" || name == "sshguard6":
		return SSHGuard, ""
	case strings.HasPrefix(name, "crowdsec"):
		return CrowdSec, ""
	}
	return "", ""
}
