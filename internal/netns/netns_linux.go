// Package netns runs code inside another network namespace.
package netns

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread moved into the network namespace path refers
// to (a /proc/PID/ns/net file or a bind mount), then moves the thread back
// and frees it. Sockets fn makes belong to that namespace for good. A
// thread that cannot come back stays locked and ends with its goroutine:
// a thread never rejoins the pool in the wrong namespace. (A thread that
// ends fires the Pdeathsig of children started from it, which is why
// coming back is the rule.)
func Do(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := enter(path, fn)
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// enter does Do's work on the locked thread; restored is false when the
// thread could not return to its own namespace.
func enter(path string, fn func() error) (restored bool, err error) {
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return true, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("enter %s: %w", path, err)
	}
	err = fn()
	if rerr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); rerr != nil {
		return false, fmt.Errorf("leave %s: %w", path, rerr)
	}
	return true, err
}
