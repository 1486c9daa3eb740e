package action

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Signal sends sig to t without risk of hitting a recycled PID: it opens a
// pidfd for the PID, checks that the process it refers to has t's start
// time, and signals through the pidfd, which cannot refer to any other
// process. Where the kernel has no pidfd it checks the start time and
// signals the PID (a window of microseconds). The returned Exit waits for
// the process to end.
func Signal(procRoot string, t Target, sig syscall.Signal) (*Exit, error) {
	pidfd, err := unix.PidfdOpen(t.PID, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return nil, ErrGone
	case errors.Is(err, unix.ENOSYS):
		return signalByPID(procRoot, t, sig)
	case err != nil:
		return nil, fmt.Errorf("open process %d: %w", t.PID, err)
	}
	// The pidfd is pinned now; the process behind it must be the one seen.
	if err := checkStart(procRoot, t); err != nil {
		unix.Close(pidfd)
		return nil, err
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		unix.Close(pidfd)
		return nil, signalError(t, err)
	}
	return &Exit{procRoot: procRoot, target: t, pidfd: pidfd}, nil
}

func signalByPID(procRoot string, t Target, sig syscall.Signal) (*Exit, error) {
	if err := checkStart(procRoot, t); err != nil {
		return nil, err
	}
	if err := unix.Kill(t.PID, sig); err != nil {
		return nil, signalError(t, err)
	}
	return &Exit{procRoot: procRoot, target: t, pidfd: -1}, nil
}

func checkStart(procRoot string, t Target) error {
	st, err := readStat(procRoot, t.PID)
	if err != nil {
		return err
	}
	if st.start != t.StartTicks {
		return ErrReused
	}
	return nil
}

func signalError(t Target, err error) error {
	switch {
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("not permitted to signal %s: run portwarden as root (or as %s)", t, t.User)
	case errors.Is(err, unix.ESRCH):
		return ErrGone
	}
	return fmt.Errorf("signal %s: %w", t, err)
}

// Exit waits for a signalled process to end.
type Exit struct {
	procRoot string
	target   Target
	pidfd    int
}

// Wait reports whether the process ended within timeout. A process that
// has exited but is not yet reaped (a zombie) has ended.
func (e *Exit) Wait(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if e.pidfd >= 0 {
			fds := []unix.PollFd{{Fd: int32(e.pidfd), Events: unix.POLLIN}}
			ms := max(0, int(time.Until(deadline)/time.Millisecond))
			n, err := unix.Poll(fds, min(ms, 100))
			if err == nil && n > 0 {
				return true
			}
		} else if err := checkStart(e.procRoot, e.target); err != nil {
			return true
		} else {
			time.Sleep(50 * time.Millisecond) // no pidfd: poll /proc
		}
		// A zombie's pidfd is readable, but check /proc too for kernels
		// that report exit late.
		if err := checkStart(e.procRoot, e.target); err != nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Close releases the pidfd.
func (e *Exit) Close() {
	if e.pidfd >= 0 {
		unix.Close(e.pidfd)
		e.pidfd = -1
	}
}
