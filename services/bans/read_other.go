//go:build !linux

package bans

import (
	"errors"
	"time"
)

// Space is a network namespace to read bans in.
type Space struct {
	Path  string
	Inode uint64
	Label string
}

// ReadAll says bans are read on Linux only.
func ReadAll(spaces []Space, procRoot string, now time.Time) ([]Ban, []string) {
	return nil, []string{errors.New("bans are read from nftables and ipsets, on Linux only").Error()}
}
