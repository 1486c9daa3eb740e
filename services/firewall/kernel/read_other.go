//go:build !linux

package kernel

import (
	"errors"

	"github.com/portwarden/portwarden/services/firewall"
)

var errNoNftables = errors.New("reading the firewall needs Linux's nftables")

// Read has no packet filter to read here.
func Read(nsPath string) (*firewall.Ruleset, error) { return nil, errNoNftables }

// ReadWith has no packet filter to read here.
func ReadWith(nsPath string, legacy *Legacy) (*firewall.Ruleset, error) { return nil, errNoNftables }

// Generation has no packet filter to read here.
func Generation(nsPath string) (uint32, error) { return 0, errNoNftables }

// ReadInterfaces has no rtnetlink here.
func ReadInterfaces(nsPath string) ([]firewall.Interface, error) { return nil, errNoNftables }

// Legacy stands for iptables-legacy tables where none can be read.
type Legacy struct{ Sum uint64 }

// ReadLegacy has no x_tables to read here.
func ReadLegacy(nsPath string, tables []string) (*Legacy, error) { return nil, errNoNftables }

// LegacyInUse cannot read x_tables here: every table counts.
func LegacyInUse(nsPath string, tables []string) ([]string, error) { return tables, nil }

// LegacyTablesIn has no x_tables to list here.
func LegacyTablesIn(nsPath string) ([]string, error) { return nil, nil }

// IPSetsChanged has no ipsets to read here.
func IPSetsChanged(nsPath string, rs *firewall.Ruleset) (bool, error) { return false, nil }

// ReadNetwork has no rtnetlink here.
func ReadNetwork(nsPath string) ([]firewall.Interface, *firewall.Routing, error) {
	return nil, nil, errNoNftables
}
