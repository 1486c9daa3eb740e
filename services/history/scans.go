package history

import (
	"database/sql"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ScanKind says how a peer probed closed ports.
type ScanKind uint8

// The kinds of scan.
const (
	// ScanSYN is TCP SYNs to closed ports: a SYN scan, or a connect scan
	// that completed no handshake (a closed port answers both alike).
	ScanSYN ScanKind = 1
	// ScanConnect is TCP SYNs to closed ports from a peer that completed
	// handshakes with open ones during the scan.
	ScanConnect ScanKind = 2
	// ScanUDP is UDP datagrams to closed ports.
	ScanUDP ScanKind = 3
	// ScanStealth is TCP segments with neither SYN nor ACK (FIN, NULL and
	// Xmas scans) to closed ports.
	ScanStealth ScanKind = 4
)

// String names the kind as JSON and the views do.
func (k ScanKind) String() string {
	switch k {
	case ScanSYN:
		return "syn"
	case ScanConnect:
		return "connect"
	case ScanUDP:
		return "udp"
	case ScanStealth:
		return "stealth"
	}
	return "unknown"
}

// Scan is what one peer probed of one namespace's closed ports, from its
// first probe to its last.
type Scan struct {
	ID        int64
	Peer      netip.Addr
	NetNS     uint64
	NetNSName string
	Kind      ScanKind
	Ports     int    // distinct closed ports
	Probes    int    // packets
	PortList  string // "1-1000,1433,3306", cut short past MaxPortList
	First     time.Time
	Last      time.Time
}

// MaxPortList bounds the port list kept with a scan, in bytes.
const MaxPortList = 200

// PortRanges writes ports (sorted, distinct) as ranges, "1-1000,1433",
// cut at MaxPortList with "…".
func PortRanges(ports []uint16) string {
	var b strings.Builder
	for i := 0; i < len(ports); {
		j := i
		for j+1 < len(ports) && ports[j+1] == ports[j]+1 {
			j++
		}
		part := strconv.Itoa(int(ports[i]))
		if j > i {
			part += "-" + strconv.Itoa(int(ports[j]))
		}
		if b.Len()+len(part)+1 > MaxPortList-len(",…") {
			b.WriteString(",…")
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(part)
		i = j + 1
	}
	return b.String()
}

// WriteScans stores scans in one transaction: one without an ID is
// inserted and given one, one with an ID updated as it grew.
func (d *DB) WriteScans(scans []*Scan) error {
	tx, err := d.sql.Begin()
	if err != nil {
		return fmt.Errorf("history: writing scans to %s: %w", d.path, err)
	}
	ids := make([]int64, len(scans))
	for i, s := range scans {
		if s.ID != 0 {
			_, err = tx.Exec(`UPDATE scans SET kind = ?, ports = ?, probes = ?, port_list = ?, last_seen = ? WHERE id = ?`,
				s.Kind, s.Ports, s.Probes, s.PortList, s.Last.UnixNano(), s.ID)
			ids[i] = s.ID
		} else {
			var res sql.Result
			res, err = tx.Exec(`INSERT INTO scans (peer, netns, netns_name, kind, ports, probes, port_list, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				addrBytes(s.Peer), int64(s.NetNS), s.NetNSName, s.Kind, s.Ports, s.Probes, s.PortList, s.First.UnixNano(), s.Last.UnixNano())
			if err == nil {
				ids[i], err = res.LastInsertId()
			}
		}
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("history: writing scans to %s: %w", d.path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: committing scans to %s: %w", d.path, err)
	}
	for i, s := range scans {
		s.ID = ids[i]
	}
	return nil
}

// ScanFilter picks scans.
type ScanFilter struct {
	Since, Until time.Time    // scans going on at some moment between; zero: open
	Peer         netip.Prefix // zero: any
	NetNS        uint64       // 0: any
}

// Scans returns the scans f picks, oldest first.
func (d *DB) Scans(f ScanFilter) ([]Scan, error) {
	q := `SELECT id, peer, netns, netns_name, kind, ports, probes, port_list, first_seen, last_seen FROM scans WHERE 1`
	var args []any
	if !f.Since.IsZero() {
		q += ` AND last_seen >= ?`
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		q += ` AND first_seen <= ?`
		args = append(args, f.Until.UnixNano())
	}
	if f.NetNS != 0 {
		q += ` AND netns = ?`
		args = append(args, int64(f.NetNS))
	}
	rows, err := d.sql.Query(q+` ORDER BY first_seen`, args...)
	if err != nil {
		return nil, fmt.Errorf("history: reading scans from %s: %w", d.path, err)
	}
	defer rows.Close()
	var out []Scan
	for rows.Next() {
		var s Scan
		var peer []byte
		var netns, first, last int64
		if err := rows.Scan(&s.ID, &peer, &netns, &s.NetNSName, &s.Kind, &s.Ports, &s.Probes, &s.PortList, &first, &last); err != nil {
			return nil, fmt.Errorf("history: reading scans from %s: %w", d.path, err)
		}
		s.Peer, s.NetNS = addrFrom(peer), uint64(netns)
		s.First, s.Last = time.Unix(0, first), time.Unix(0, last)
		if f.Peer.IsValid() && !f.Peer.Contains(s.Peer) {
			continue
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ScanKnowledge is how the record knows scans.
type ScanKnowledge struct {
	Source Source // Stats.Scans
	// Probes counted without their sources (Stats.UnnamedUDP,
	// Stats.UnnamedResets).
	UnnamedUDP, UnnamedResets uint64
}

// ScanKnowledge reads how the record knows scans, without counting its
// lifetimes as Stats does.
func (d *DB) ScanKnowledge() (ScanKnowledge, error) {
	var k ScanKnowledge
	rows, err := d.sql.Query(`SELECT key, value FROM meta WHERE key IN ('scan_source', 'unnamed_udp', 'unnamed_resets')`)
	if err != nil {
		return k, fmt.Errorf("history: reading %s: %w", d.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var v int64
		if err := rows.Scan(&key, &v); err != nil {
			return k, fmt.Errorf("history: reading %s: %w", d.path, err)
		}
		switch key {
		case "scan_source":
			k.Source = Source(v)
		case "unnamed_udp":
			k.UnnamedUDP = uint64(v)
		case "unnamed_resets":
			k.UnnamedResets = uint64(v)
		}
	}
	return k, rows.Err()
}
