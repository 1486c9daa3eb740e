//go:build !linux

package kernel

import "errors"

// ReadDNAT has no packet filter to read here.
func ReadDNAT(nsPath string) ([]DNAT, error) {
	return nil, errors.New("reading DNAT rules needs Linux's nftables")
}
