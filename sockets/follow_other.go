//go:build !linux

package sockets

// NewCollectorFollowing returns the collector for this operating system:
// here, one that reads everything every time.
func NewCollectorFollowing(ChangeFeed) Collector { return NewCollector() }
