//go:build !linux

package action

import (
	"errors"
	"runtime"
	"syscall"
	"time"
)

// ErrUnsupported is returned where portwarden cannot act on processes.
var ErrUnsupported = errors.New("portwarden cannot signal processes on " + runtime.GOOS + " yet")

// Signal is not supported on this system.
func Signal(procRoot string, t Target, sig syscall.Signal) (*Exit, error) { return nil, ErrUnsupported }

// Exit waits for a signalled process to end.
type Exit struct{}

// Wait reports whether the process ended within timeout.
func (e *Exit) Wait(timeout time.Duration) bool { return false }

// Close releases the handle.
func (e *Exit) Close() {}
