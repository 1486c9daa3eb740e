package sockets

// NewCollectorFollowing returns the collector for this operating system,
// kept up to date between full collections by feed (an
// IncrementalCollector).
func NewCollectorFollowing(feed ChangeFeed) Collector { return NewIncrementalCollector(feed, 0) }
