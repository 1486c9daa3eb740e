package bans

import (
	"database/sql"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // fail2ban's database
)

// jailPeer names one fail2ban ban.
type jailPeer struct {
	jail string
	peer netip.Addr
}

// Fail2banExpiries reads when each current fail2ban ban ends from the
// database of every running fail2ban-server (found through its open
// files, in its own mount namespace: /proc/PID/root): the bans table
// keeps each ban's time and length. A ban of length -1 never ends (zero
// time).
func Fail2banExpiries(procRoot string) (map[jailPeer]time.Time, error) {
	out := map[jailPeer]time.Time{}
	dirs, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("fail2ban: %w", err)
	}
	var errs []string
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, d.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "fail2ban-server" {
			continue
		}
		db := fail2banDB(procRoot, pid)
		if db == "" {
			continue // no database: fail2ban keeps bans in memory only
		}
		if err := readFail2banDB(db, out); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("fail2ban: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// fail2banDB finds the SQLite file a fail2ban-server holds open, as a
// path through its root.
func fail2banDB(procRoot string, pid int) string {
	fdDir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return ""
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err == nil && strings.HasPrefix(target, "/") && strings.HasSuffix(target, ".sqlite3") {
			return filepath.Join(procRoot, strconv.Itoa(pid), "root", target)
		}
	}
	return ""
}

func readFail2banDB(path string, out map[jailPeer]time.Time) error {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(2000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT jail, ip, MAX(timeofban), bantime FROM bans GROUP BY jail, ip`)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var jail, ip string
		var at, length int64
		if err := rows.Scan(&jail, &ip, &at, &length); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		var end time.Time
		if length >= 0 {
			end = time.Unix(at+length, 0)
		}
		out[jailPeer{jail, addr.Unmap()}] = end
	}
	return rows.Err()
}

// withFail2banExpiry fills the expiry of fail2ban's bans from its
// database; a ban the database does not have keeps its unknown expiry.
func withFail2banExpiry(bans []Ban, ends map[jailPeer]time.Time) {
	for i, b := range bans {
		if b.By != Fail2ban || b.Known || !b.Peer.IsSingleIP() {
			continue
		}
		if end, ok := ends[jailPeer{b.Jail, b.Peer.Addr()}]; ok {
			bans[i].Expires, bans[i].Known = end, true
		}
	}
}
