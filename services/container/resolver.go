package container

import (
	"context"
	"errors"
	"sync"
	"time"
)

// lookupTimeout bounds one question to an engine: a hung engine socket
// costs a lookup this long, in the background, never a refresh.
const lookupTimeout = 2 * time.Second

// retryAfter is how long an answer that failed is kept before asking
// again (the engine may come back).
const retryAfter = 30 * time.Second

// Resolver names containers. It answers at once from its cache and asks
// the engines in the background, one question per container at a time,
// so a slow or hung engine never stalls a caller. Safe for concurrent use.
type Resolver struct {
	engines []*Engine
	mu      sync.Mutex
	cache   map[Ref]*entry
}

type entry struct {
	info    Info
	asked   time.Time
	pending chan struct{} // closed when the question in flight is answered
	known   bool          // the engine answered
}

// NewResolver asks engines about containers (DefaultEngines for the real
// ones).
func NewResolver(engines []*Engine) *Resolver {
	return &Resolver{engines: engines, cache: map[Ref]*entry{}}
}

// Lookup returns what is known of ref now — at least its runtime and ID —
// and, when the engine has not been asked lately, asks it in the
// background.
func (r *Resolver) Lookup(ref Ref) Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[ref]
	if e == nil {
		e = &entry{info: Info{Ref: ref}}
		r.cache[ref] = e
	}
	if e.pending == nil && !e.known && time.Since(e.asked) > retryAfter {
		e.asked = time.Now()
		e.pending = make(chan struct{})
		go r.ask(ref, e)
	}
	return e.info
}

// Wait blocks until the questions in flight about refs are answered or ctx
// ends: for one-shot commands, which can afford to wait a little.
func (r *Resolver) Wait(ctx context.Context, refs []Ref) {
	for _, ref := range refs {
		r.mu.Lock()
		var pending chan struct{}
		if e := r.cache[ref]; e != nil {
			pending = e.pending
		}
		r.mu.Unlock()
		if pending == nil {
			continue
		}
		select {
		case <-pending:
		case <-ctx.Done():
			return
		}
	}
}

func (r *Resolver) ask(ref Ref, e *entry) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	var info Info
	known := false
	for _, eng := range r.engines {
		if eng.Runtime != ref.Runtime && !(ref.Runtime == "docker" && eng.Runtime == "podman") {
			continue
		}
		got, err := eng.Inspect(ctx, ref.ID)
		if err == nil {
			info, known = got, true
			info.Ref = ref
			break
		}
		if !errors.Is(err, errNotFound) && ctx.Err() != nil {
			break
		}
	}
	r.mu.Lock()
	if known {
		e.info, e.known = info, true
	}
	close(e.pending)
	e.pending = nil
	r.mu.Unlock()
}

// Engine returns the engine that runs ref's containers, or nil.
func (r *Resolver) Engine(ref Ref) *Engine {
	for _, e := range r.engines {
		if e.Runtime == ref.Runtime {
			return e
		}
	}
	return nil
}
