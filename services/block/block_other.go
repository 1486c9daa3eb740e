//go:build !linux

package block

import (
	"errors"
	"net/netip"
)

var errNoBlocks = errors.New("blocking a peer needs Linux's nftables")

// Blocker has no packet filter to write here.
type Blocker struct{ NSPath string }

// Block cannot block here.
func (b Blocker) Block(blk Block) error { return errNoBlocks }

// Unblock has nothing to remove here.
func (b Blocker) Unblock(peer netip.Prefix, all bool) (int, error) { return 0, errNoBlocks }

// List has nothing to list here.
func (b Blocker) List() ([]Block, error) { return nil, nil }
