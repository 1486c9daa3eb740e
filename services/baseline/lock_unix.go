//go:build unix

package baseline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockWait bounds how long a writer waits for another to finish.
const lockWait = 10 * time.Second

// lock takes an exclusive flock on the directory that holds path — not on
// the file itself, which rename replaces, and not on a lock file, which
// would be left behind in /etc — and returns its release.
func lock(path string) (func(), error) {
	f, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("open baseline directory to lock it: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock baseline: %w", err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("baseline %s is locked by another portwarden for over %s", path, lockWait)
		}
		time.Sleep(20 * time.Millisecond) // back off between non-blocking attempts
	}
}
