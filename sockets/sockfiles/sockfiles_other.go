//go:build !((386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux)

package sockfiles

import "errors"

// Scanner scans nothing here: the program is built for Linux only.
type Scanner struct{}

// Open says the iterator is not available on this system.
func Open() (*Scanner, error) {
	return nil, errors.New("eBPF iterator: not available on this operating system or architecture")
}

// Scan does nothing.
func (*Scanner) Scan(func(pid int32, inode uint64)) error { return nil }

// Close does nothing.
func (*Scanner) Close() error { return nil }
