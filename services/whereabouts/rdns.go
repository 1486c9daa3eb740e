package whereabouts

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Name is a reverse DNS answer, or where the asking stands.
type Name struct {
	Host    string // the first name, without its final dot; hostile text
	Pending bool   // asked, not answered yet
	Failed  bool   // no name, or no answer in time
}

// String is the name, "…" while pending, "" when there is none.
func (n Name) String() string {
	if n.Pending {
		return "…"
	}
	return n.Host
}

// Resolver asks for reverse names in the background: Name answers from
// its cache at once and starts a lookup when the address is new, with at
// most MaxInFlight lookups running, each bounded by Timeout. A refresh
// never waits on DNS.
type Resolver struct {
	timeout  time.Duration
	lookup   func(ctx context.Context, addr string) ([]string, error)
	slots    chan struct{}
	mu       sync.Mutex
	cache    map[netip.Addr]Name
	inFlight sync.WaitGroup
}

// Resolver defaults.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultMaxInFlight = 4
	maxCached          = 4096
)

// NewResolver asks r (net.DefaultResolver when nil).
func NewResolver(r *net.Resolver) *Resolver {
	if r == nil {
		r = net.DefaultResolver
	}
	return &Resolver{timeout: DefaultTimeout, lookup: r.LookupAddr,
		slots: make(chan struct{}, DefaultMaxInFlight), cache: map[netip.Addr]Name{}}
}

// WithTimeout sets how long one lookup may take.
func (r *Resolver) WithTimeout(d time.Duration) *Resolver { r.timeout = d; return r }

// Name returns what is known of addr's name now, and starts asking when
// nothing is. A lookup that finds no free slot is tried again at the
// next call: addresses are never queued without bound.
func (r *Resolver) Name(addr netip.Addr) Name {
	addr = addr.Unmap()
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.cache[addr]; ok {
		return n
	}
	select {
	case r.slots <- struct{}{}:
	default:
		return Name{Pending: true}
	}
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	r.cache[addr] = Name{Pending: true}
	r.inFlight.Add(1)
	go r.ask(addr)
	return Name{Pending: true}
}

func (r *Resolver) ask(addr netip.Addr) {
	defer r.inFlight.Done()
	defer func() { <-r.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	names, err := r.lookup(ctx, addr.String())
	n := Name{Failed: true}
	if err == nil && len(names) > 0 {
		n = Name{Host: strings.TrimSuffix(names[0], ".")}
	}
	r.mu.Lock()
	r.cache[addr] = n
	r.mu.Unlock()
}

// Wait waits until the lookups started have ended, or ctx is done.
func (r *Resolver) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { r.inFlight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
