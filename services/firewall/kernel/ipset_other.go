//go:build !linux

package kernel

import "github.com/portwarden/portwarden/services/firewall"

// ReadIPSets lists a namespace's ipsets: Linux only.
func ReadIPSets(nsPath string) ([]firewall.IPSet, uint64, error) { return nil, 0, errNoNftables }
