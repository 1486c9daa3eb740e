// Package whereabouts says who a peer address belongs to, offline: its
// network owner (AS number and name) and country from MaxMind-format
// .mmdb files, and its reverse DNS name through a bounded, cached
// resolver that never makes a caller wait.
package whereabouts

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DefaultDirs are where GeoIP databases are installed: geoipupdate's
// and Debian's packages' directories.
var DefaultDirs = []string{"/usr/share/GeoIP", "/var/lib/GeoIP"}

// Place is what the databases say of an address. Zero fields are not
// known.
type Place struct {
	ASN     uint32
	ASName  string // hostile text: from the database
	Country string // ISO 3166-1 alpha-2
}

// record reads every shape of record the common free databases have:
// GeoLite2 and DB-IP (country.iso_code; autonomous_system_*), and the
// ip-location-db packages (country_code).
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	CountryCode string `maxminddb:"country_code"`
	ASN         uint32 `maxminddb:"autonomous_system_number"`
	ASOrg       string `maxminddb:"autonomous_system_organization"`
}

// Geo looks addresses up in a set of open databases.
type Geo struct {
	dbs   []*maxminddb.Reader
	names []string // each database's file and type, for the admin
}

// OpenGeo opens every .mmdb file in dirs. It returns an error naming the
// directories when none holds a database, and one naming each file that
// could not be read beside the databases that could.
func OpenGeo(dirs []string) (*Geo, error) {
	g := &Geo{}
	var errs []error
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.mmdb"))
		if err != nil {
			continue
		}
		slices.Sort(files)
		for _, f := range files {
			db, err := maxminddb.Open(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f, err))
				continue
			}
			g.dbs = append(g.dbs, db)
			g.names = append(g.names, fmt.Sprintf("%s (%s)", f, db.Metadata.DatabaseType))
		}
	}
	if len(g.dbs) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no GeoIP database (*.mmdb) in %s: network owners and countries are not known", strings.Join(dirs, " or ")))
	}
	return g, errors.Join(errs...)
}

// Databases names the databases in use.
func (g *Geo) Databases() []string { return slices.Clone(g.names) }

// Close closes the databases.
func (g *Geo) Close() error {
	var errs []error
	for _, db := range g.dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// Lookup says what the databases know of addr: for each field, the first
// database that has it. Addresses no database can place — private,
// loopback, link-local, shared and documentation ranges — are not looked
// up: a database's row for them (some have one) is not about the peer.
func (g *Geo) Lookup(addr netip.Addr) Place {
	addr = addr.Unmap()
	var p Place
	if g == nil || !Public(addr) {
		return p
	}
	for _, db := range g.dbs {
		var r record
		if err := db.Lookup(addr).Decode(&r); err != nil {
			continue
		}
		if p.ASN == 0 && r.ASN != 0 {
			p.ASN, p.ASName = r.ASN, r.ASOrg
		}
		if p.Country == "" {
			p.Country = r.Country.ISOCode
			if p.Country == "" {
				p.Country = r.CountryCode
			}
		}
	}
	return p
}

// special are the ranges no registry gives to a network on the Internet
// that netip does not already tell (RFC 6890 and its updates).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"), // documentation
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
}

// Public reports whether addr can belong to a network on the Internet:
// not private, loopback, link-local, multicast, unspecified or special.
func Public(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() ||
		addr.IsMulticast() || addr.IsUnspecified() || addr.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range special {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
