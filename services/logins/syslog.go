package logins

import (
	"strings"
	"time"
)

// servers are the syslog identifiers of OpenSSH's processes: the
// listener, and from 9.8 the per-session and authentication binaries.
var servers = map[string]string{"sshd": "sshd", "sshd-session": "sshd", "sshd-auth": "sshd"}

// ServiceOf names the service a syslog identifier logs for ("" for none
// this package reads).
func ServiceOf(ident string) string { return servers[ident] }

// parseLine splits a syslog file line into its time, identifier and
// message. Both formats rsyslog writes are read: RFC 3339
// ("2026-12-06T08:10:00.123456+00:00 host sshd[7]: …", Debian's default
// since 12) and the traditional one ("Dec  6 08:10:00 host sshd[7]: …"),
// whose missing year is now's, or the year before for a date after now.
func parseLine(line string, now time.Time) (when time.Time, ident, msg string, ok bool) {
	var rest string
	if len(line) > 0 && line[0] >= '0' && line[0] <= '9' {
		stamp, r, found := strings.Cut(line, " ")
		if !found {
			return time.Time{}, "", "", false
		}
		t, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			return time.Time{}, "", "", false
		}
		when, rest = t, r
	} else {
		const layout = "Jan _2 15:04:05"
		if len(line) <= len(layout) {
			return time.Time{}, "", "", false
		}
		t, err := time.ParseInLocation(layout, line[:len(layout)], now.Location())
		if err != nil {
			return time.Time{}, "", "", false
		}
		when = time.Date(now.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, now.Location())
		if when.After(now.Add(24 * time.Hour)) {
			when = when.AddDate(-1, 0, 0)
		}
		rest = strings.TrimPrefix(line[len(layout):], " ")
	}
	_, rest, found := strings.Cut(rest, " ") // the host
	if !found {
		return time.Time{}, "", "", false
	}
	tag, msg, found := strings.Cut(rest, ": ")
	if !found {
		return time.Time{}, "", "", false
	}
	ident, _, _ = strings.Cut(tag, "[")
	return when, ident, msg, true
}
