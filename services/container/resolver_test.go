package container

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestHungEngineNeverStalls: an engine socket that accepts and never
// answers costs a caller nothing — Lookup answers at once with what it
// knows, Wait gives up when its context does — and the question in the
// background ends by its own timeout.
func TestHungEngineNeverStalls(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hung.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accepted, never answered
		}
	}()
	r := NewResolver([]*Engine{NewEngine("docker", sock)})
	ref := Ref{"docker", "a38de34a889efe3a3a2bad4cca047f008f05b3c89a04d281ffa642a7d99f1ccc"}

	start := time.Now()
	info := r.Lookup(ref)
	if took := time.Since(start); took > 100*time.Millisecond || info.Ref != ref || info.Name != "" {
		t.Errorf("Lookup of a hung engine took %v and gave %+v", took, info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	r.Wait(ctx, []Ref{ref})
	if took := time.Since(start); took > time.Second {
		t.Errorf("Wait outlived its context: %v", took)
	}
	// The background question ends with lookupTimeout; a later Lookup
	// within retryAfter asks nothing new.
	done := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.cache[ref].pending == nil
	}
	deadline := time.Now().Add(lookupTimeout + 2*time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("the question to a hung engine never ended")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
	if info := r.Lookup(ref); info.Name != "" {
		t.Errorf("a hung engine named the container: %+v", info)
	}
	r.mu.Lock()
	pending := r.cache[ref].pending
	r.mu.Unlock()
	if pending != nil {
		t.Error("Lookup asked the hung engine again at once")
	}
}
