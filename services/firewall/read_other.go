//go:build !linux

package firewall

import (
	"errors"
	"net/netip"
)

var errNoNftables = errors.New("reading the firewall needs Linux's nftables")

// Read has no packet filter to read here.
func Read(nsPath string) (*Ruleset, error) { return nil, errNoNftables }

// Generation has no packet filter to read here.
func Generation(nsPath string) (uint32, error) { return 0, errNoNftables }

// ReadInterfaces has no rtnetlink here.
func ReadInterfaces(nsPath string) ([]Interface, error) { return nil, errNoNftables }

// ReadWith has no packet filter to read here.
func ReadWith(nsPath string, legacy *Legacy) (*Ruleset, error) { return nil, errNoNftables }

// Legacy stands for iptables-legacy tables where none can be read.
type Legacy struct{ Sum uint64 }

// ReadLegacy has no x_tables to read here.
func ReadLegacy(nsPath string, tables []string) (*Legacy, error) { return nil, errNoNftables }

// Ruleset stands for a ruleset where none can be read.
type Ruleset struct {
	Generation uint32
	LegacySum  uint64
}

// Empty reports that there is nothing to evaluate.
func (rs *Ruleset) Empty() bool { return true }

// Decide cannot decide without nftables.
func (rs *Ruleset) Decide(sc *Scope, l Listener) Decision {
	return Decision{Reach: ReachUnknown, Verdict: VerdictUnknown, Why: errNoNftables.Error()}
}

// DecideForwarded cannot decide without nftables.
func DecideForwarded(outer *Ruleset, outerScope *Scope, proto uint8, hostPort, to netip.AddrPort, inner *Ruleset, innerScope *Scope) Decision {
	return Decision{Reach: ReachUnknown, Verdict: VerdictUnknown, Why: errNoNftables.Error()}
}

// LegacyInUse cannot read x_tables here: every table counts.
func LegacyInUse(nsPath string, tables []string) ([]string, error) { return tables, nil }

// LegacyTablesIn has no x_tables to list here.
func LegacyTablesIn(nsPath string) ([]string, error) { return nil, nil }
