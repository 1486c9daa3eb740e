package whereabouts_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/whereabouts"
	"github.com/portwarden/portwarden/services/whereabouts/geotest"
)

// TestLookupInRealDatabases: public addresses get their network owner
// from an ASN database and their country from the CC0 country database
// as mmdblookup (libmaxminddb's own tool) reads it; private and
// documentation addresses get nothing, although the country database
// has a row for them.
func TestLookupInRealDatabases(t *testing.T) {
	public := []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("9.9.9.9"), netip.MustParseAddr("2606:4700:4700::1111")}
	dir := geotest.DirForTest(t, public...)
	geo, err := whereabouts.OpenGeo([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	if n := len(geo.Databases()); n != 2 {
		t.Errorf("databases %v, want the country and the ASN one", geo.Databases())
	}
	for _, a := range public {
		row, ok := geotest.Lookup(t, a)
		if !ok {
			t.Fatalf("%s is in no ASN row", a)
		}
		got := geo.Lookup(a)
		want := geotest.Country(t, a)
		if got.ASN != row.Number || got.ASName != row.Name || got.Country != want || want == "" {
			t.Errorf("%s: %+v, want AS%d %q in %q", a, got, row.Number, row.Name, want)
		}
	}
	private := netip.MustParseAddr("192.168.1.1")
	if geotest.Country(t, private) == "" {
		t.Log("the country database has no row for 192.168.1.1: the next check proves less")
	}
	for _, a := range []string{"192.168.1.1", "10.0.0.1", "127.0.0.1", "198.51.100.9", "2001:db8::1", "fe80::1", "100.64.0.1"} {
		if p := geo.Lookup(netip.MustParseAddr(a)); p != (whereabouts.Place{}) {
			t.Errorf("%s: %+v, want nothing for a private or special address", a, p)
		}
	}
}

// TestNoDatabaseSaysSo: directories without databases are named in the
// error, and lookups know nothing.
func TestNoDatabaseSaysSo(t *testing.T) {
	dir := t.TempDir()
	geo, err := whereabouts.OpenGeo([]string{dir, dir + "/missing"})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "no GeoIP database") {
		t.Errorf("error %v, want one naming %s", err, dir)
	}
	if p := geo.Lookup(netip.MustParseAddr("1.1.1.1")); p != (whereabouts.Place{}) {
		t.Errorf("lookup without a database: %+v", p)
	}
}
