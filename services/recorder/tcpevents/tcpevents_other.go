//go:build !((386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux)

package tcpevents

import (
	"errors"

	"github.com/portwarden/portwarden/sockets"
)

// Reader reads no events here: the program is built for Linux only.
type Reader struct{}

// Open says eBPF is not available on this system.
func Open() (*Reader, error) { return OpenWith(Options{}) }

// OpenWith says eBPF is not available on this system.
func OpenWith(Options) (*Reader, error) {
	return nil, errors.New("eBPF: not available on this operating system or architecture")
}

// Poll returns ErrClosed.
func (*Reader) Poll(func(*Event)) error { return ErrClosed }

// Read returns ErrClosed.
func (*Reader) Read(*Event) error { return ErrClosed }

// Drain does nothing.
func (*Reader) Drain() error { return nil }

// Lost returns 0.
func (*Reader) Lost() (uint64, error) { return 0, nil }

// Close does nothing.
func (*Reader) Close() error { return nil }

// Moved does nothing.
func (*Reader) Moved(func(uint64, sockets.Traffic)) error { return nil }
