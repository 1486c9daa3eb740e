//go:build !((386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux)

package udpflows

import "errors"

// Reader reads no flows here: the programs are built for Linux only.
type Reader struct{}

// Open says eBPF is not available on this system.
func Open() (*Reader, error) {
	return nil, errors.New("eBPF: not available on this operating system or architecture")
}

// Read returns ErrClosed.
func (*Reader) Read(*Flow) error { return ErrClosed }

// Drain does nothing.
func (*Reader) Drain() error { return nil }

// Lost returns 0.
func (*Reader) Lost() (uint64, error) { return 0, nil }

// Close does nothing.
func (*Reader) Close() error { return nil }
