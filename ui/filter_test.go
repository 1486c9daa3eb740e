package ui

import (
	"net/netip"
	"testing"
)

// TestFieldFilters: field terms match fields exactly — the issue's
// "198.51.100.1:22 " matched ports 224, 226 and 227 as text — and an
// IPv6 address typed as a word stays a word.
func TestFieldFilters(t *testing.T) {
	mk := func(local, remote, process, where string) *row {
		return &row{search: local + " " + remote + " " + process, sortKeys: sortKeys{local: netip.MustParseAddrPort(local),
			remote: netip.MustParseAddrPort(remote), process: process, where: where}}
	}
	ssh := mk("192.0.2.5:22", "198.51.100.1:40000", "sshd", "host")
	other := mk("192.0.2.5:224", "198.51.100.12:40001", "x", "web")
	v6 := mk("[2001:db8::5]:22", "[2001:db8::9]:5000", "sshd,sshd-session", "host")
	for _, tc := range []struct {
		filter string
		want   []*row
	}{
		{"peer:198.51.100.1 port:22", []*row{ssh}},
		{"port:224", []*row{other}},
		{"peer:198.51.100.0/28", []*row{ssh, other}},
		{"process:SSHD", []*row{ssh, v6}},
		{"process:sshd-session", []*row{v6}},
		{"ns:web", []*row{other}},
		{"2001:db8::9", []*row{v6}},
		{"port:ssh", nil}, // not a port: nothing, rather than everything
		{"peer:2001:db8::/64 port:5000", []*row{v6}},
	} {
		q := parseFilter(tc.filter)
		var got []*row
		for _, r := range []*row{ssh, other, v6} {
			if q.matches(r) {
				got = append(got, r)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q matched %d rows, want %d", tc.filter, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q matched %v, want %v", tc.filter, got[i].sortKeys, tc.want[i].sortKeys)
			}
		}
	}
}
