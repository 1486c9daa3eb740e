// Package geotest gives tests a directory of real GeoIP data: the CC0
// ip-location-db country database as published, and an ASN database in
// GeoLite2-ASN's shape written from ip-location-db's ASN lists (published
// as CSV only) for the addresses a test looks up.
package geotest

import (
	"encoding/csv"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Env names the directory scripts/test.sh fetches the data into.
const Env = "PORTWARDEN_TEST_GEOIP"

// CountryDB is the country database's file name there.
const CountryDB = "geo-whois-asn-country.mmdb"

// Source is the fetched data's directory; it fails t when it is missing.
func Source(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(Env)
	if dir == "" {
		dir = "/var/cache/portwarden-test/geoip"
	}
	if _, err := os.Stat(filepath.Join(dir, CountryDB)); err != nil {
		t.Fatalf("the GeoIP test data is missing (scripts/test.sh fetches it from the npm registry): %v", err)
	}
	return dir
}

// ASN is one row of the ASN lists.
type ASN struct {
	First, Last netip.Addr
	Number      uint32
	Name        string
}

// Lookup finds the ASN row holding addr in the fetched lists.
func Lookup(t testing.TB, addr netip.Addr) (ASN, bool) {
	t.Helper()
	name := "asn-ipv4.csv"
	if addr.Is6() {
		name = "asn-ipv6.csv"
	}
	f, err := os.Open(filepath.Join(Source(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 4
	for {
		row, err := r.Read()
		if err == io.EOF {
			return ASN{}, false
		}
		if err != nil {
			t.Fatal(err)
		}
		first, err1 := netip.ParseAddr(row[0])
		last, err2 := netip.ParseAddr(row[1])
		n, err3 := strconv.ParseUint(row[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		if first.Compare(addr) <= 0 && addr.Compare(last) <= 0 {
			return ASN{first, last, uint32(n), row[3]}, true
		}
	}
}

// DirForTest makes a directory holding the country database and an ASN
// database with the rows of addrs, and returns it.
func DirForTest(t testing.TB, addrs ...netip.Addr) string {
	t.Helper()
	src := Source(t)
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(src, CountryDB), filepath.Join(dir, CountryDB)); err != nil {
		t.Fatal(err)
	}
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		row, ok := Lookup(t, a)
		if !ok {
			continue
		}
		err := w.InsertRange(net.IP(row.First.AsSlice()), net.IP(row.Last.AsSlice()), mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(row.Number),
			"autonomous_system_organization": mmdbtype.String(row.Name),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(dir, "asn.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Country reads the country code the fetched country database gives addr
// with mmdblookup, libmaxminddb's own tool: the oracle. "" for none.
func Country(t testing.TB, addr netip.Addr) string {
	t.Helper()
	db := filepath.Join(Source(t), CountryDB)
	out, err := exec.Command("mmdblookup", "--file", db, "--ip", addr.String(), "country_code").CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "Could not find") || strings.Contains(string(out), "No entry") {
			return ""
		}
		t.Fatalf("mmdblookup: %v: %s", err, out)
	}
	s := strings.TrimSpace(string(out))
	i := strings.Index(s, "\"")
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i+1:], "\"")
	if j < 0 {
		return ""
	}
	return s[i+1 : i+1+j]
}
