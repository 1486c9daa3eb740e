package report

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/logins"
	"github.com/portwarden/portwarden/services/peers"
)

// PeerLine is one line of `portwarden peers --json`: a remote address and
// everything known of it. Unknown facts are null, never zero or empty.
type PeerLine struct {
	Address         string  `json:"address"`
	Class           string  `json:"class"`
	RDNS            *string `json:"rdns"`    // null: not asked, or no name in time
	ASN             *uint32 `json:"asn"`     // null: no database places it
	ASName          *string `json:"as_name"` // hostile text
	Country         *string `json:"country"`
	ConnectionsOpen int     `json:"connections_open"`
	PreAuthOpen     int     `json:"preauth_open"`
	Lifetimes       int     `json:"lifetimes"`
	// RxBytes and TxBytes sum what the recorded connections carried, as
	// the kernel counted them when they closed (received and sent by
	// this host); null when none was counted.
	RxBytes      *uint64        `json:"rx_bytes"`
	TxBytes      *uint64        `json:"tx_bytes"`
	Ports        []uint16       `json:"ports"` // distinct local service ports touched
	Scans        []ScanLine     `json:"scans"`
	FailedLogins []FailedLogins `json:"failed_logins"`
	Bans         []BanLine      `json:"bans"`
	Tried        int            `json:"tried"` // closed ports probed + failed logins + pre-authentication connections
	FirstSeen    *string        `json:"first_seen"`
	LastSeen     *string        `json:"last_seen"`
}

// ScanLine is one scan of a peer.
type ScanLine struct {
	Kind      string  `json:"kind"` // syn, connect, udp, stealth
	Ports     int     `json:"ports"`
	Probes    int     `json:"probes"`
	PortList  string  `json:"port_list"`
	NetNS     uint64  `json:"netns"`
	NetNSName *string `json:"netns_name"`
	FirstSeen string  `json:"first_seen"`
	LastSeen  string  `json:"last_seen"`
}

// FailedLogins is what a peer failed against one service.
type FailedLogins struct {
	Service string   `json:"service"`
	Count   int      `json:"count"`
	Users   []string `json:"users"` // hostile text
	First   string   `json:"first"`
	Last    string   `json:"last"`
}

// BanLine is one ban keeping a peer out.
type BanLine struct {
	By      string  `json:"by"` // portwarden, fail2ban, sshguard, crowdsec, nftables, ipset
	Set     string  `json:"set"`
	Jail    *string `json:"jail"`
	Network string  `json:"network"` // what the ban covers
	NetNS   uint64  `json:"netns"`
	// Expires is null when the ban does not end, or when nothing says
	// (ExpiryKnown false).
	Expires     *string `json:"expires"`
	ExpiryKnown bool    `json:"expiry_known"`
}

func stamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.RFC3339Nano)
	return &s
}

// PeerLineOf is the JSON form of p.
func PeerLineOf(p *peers.Peer) PeerLine {
	l := PeerLine{Address: p.Addr.String(), Class: string(p.Class), ConnectionsOpen: p.Open, PreAuthOpen: p.PreAuth,
		Lifetimes: p.Lifetimes, Ports: p.Ports, Scans: []ScanLine{}, FailedLogins: []FailedLogins{}, Bans: []BanLine{},
		Tried: p.Tried(), FirstSeen: stamp(p.First), LastSeen: stamp(p.Last)}
	if l.Ports == nil {
		l.Ports = []uint16{}
	}
	if p.Counted > 0 {
		rx, tx := p.Carried.Rx, p.Carried.Tx
		l.RxBytes, l.TxBytes = &rx, &tx
	}
	if p.Name.Host != "" {
		l.RDNS = &p.Name.Host
	}
	if p.Place.ASN != 0 {
		asn := p.Place.ASN
		l.ASN, l.ASName = &asn, optional(p.Place.ASName)
	}
	l.Country = optional(p.Place.Country)
	for _, s := range p.Scans {
		l.Scans = append(l.Scans, scanLine(s))
	}
	for _, f := range p.Failures {
		l.FailedLogins = append(l.FailedLogins, failedLogins(f))
	}
	for _, b := range p.Bans {
		l.Bans = append(l.Bans, BanLine{By: b.By, Set: b.Set, Jail: optional(b.Jail), Network: b.Peer.String(), NetNS: b.NetNS,
			Expires: stamp(b.Expires), ExpiryKnown: b.Known})
	}
	return l
}

func scanLine(s history.Scan) ScanLine {
	return ScanLine{Kind: s.Kind.String(), Ports: s.Ports, Probes: s.Probes, PortList: s.PortList,
		NetNS: s.NetNS, NetNSName: optional(s.NetNSName), FirstSeen: *stamp(s.First), LastSeen: *stamp(s.Last)}
}

func failedLogins(f logins.Failures) FailedLogins {
	users := f.Users
	if users == nil {
		users = []string{}
	}
	return FailedLogins{Service: f.Service, Count: f.Count, Users: users, First: *stamp(f.First), Last: *stamp(f.Last)}
}

// WritePeersJSON writes one PeerLine per peer (JSON Lines).
func WritePeersJSON(w io.Writer, list []peers.Peer) error {
	for i := range list {
		b, err := json.Marshal(PeerLineOf(&list[i]))
		if err != nil {
			return err
		}
		if _, err := w.Write(append(escapeC1(b), '\n')); err != nil {
			return err
		}
	}
	return nil
}

// peersHeader names the columns of WritePeersTable.
var peersHeader = []string{"PEER", "NAME", "AS", "CC", "OPEN", "PREAUTH", "SCANNED", "FAILED", "BANNED", "LAST"}

// peersCuttable are the columns a narrow terminal cuts: NAME, AS.
var peersCuttable = []int{1, 2}

// WritePeersTable writes the peers as an aligned table, the most tried
// first. Names from DNS and the databases are made visible, never
// interpreted.
func WritePeersTable(w io.Writer, list []peers.Peer, now time.Time, width int) error {
	rows := make([][]string, 0, len(list)+1)
	rows = append(rows, peersHeader)
	for i := range list {
		rows = append(rows, PeerRow(&list[i], now))
	}
	return writeAligned(w, rows, width, peersCuttable)
}

// PeerRow is a peer's cells, as the table and the dashboard show them.
func PeerRow(p *peers.Peer, now time.Time) []string {
	as := "-"
	if p.Place.ASN != 0 {
		as = "AS" + strconv.FormatUint(uint64(p.Place.ASN), 10)
		if p.Place.ASName != "" {
			as += " " + safetext.Visible(p.Place.ASName)
		}
	}
	scanned, failed, banned := "-", "-", "-"
	if n := scannedPorts(p); n > 0 {
		scanned = strconv.Itoa(n) + " ports"
	}
	if n := failedCount(p); n > 0 {
		failed = strconv.Itoa(n)
	}
	if len(p.Bans) > 0 {
		var by []string
		for _, b := range p.Bans {
			by = appendUnique(by, b.By)
		}
		banned = strings.Join(by, ",")
	}
	last := "-"
	if !p.Last.IsZero() {
		last = p.Last.Local().Format("15:04:05")
		if now.Sub(p.Last) > 24*time.Hour {
			last = p.Last.Local().Format("Jan 02 15:04")
		}
	}
	return []string{p.Addr.String(), orDash(safetext.Visible(p.Name.String())), as, orDash(p.Place.Country),
		strconv.Itoa(p.Open), strconv.Itoa(p.PreAuth), scanned, failed, banned, last}
}

func scannedPorts(p *peers.Peer) int {
	n := 0
	for _, s := range p.Scans {
		n += s.Ports
	}
	return n
}

func failedCount(p *peers.Peer) int {
	n := 0
	for _, f := range p.Failures {
		n += f.Count
	}
	return n
}
