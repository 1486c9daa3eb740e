//go:build !linux

package signs

import "github.com/portwarden/portwarden/sockets"

// Reader reads no signs here: they come from Linux's /proc.
type Reader struct{}

// NewReader returns a Reader that reads nothing.
func NewReader(procRoot, dbRoot string) *Reader { return &Reader{} }

// Preload does nothing: there is no package database to read here.
func (*Reader) Preload() {}

// Network describes a socket inode that is a TCP or UDP socket.
type Network func(inode uint64) (desc string, ok bool)

// Of reads no signs here.
func (r *Reader) Of(p *sockets.Process, network Network) ([]Sign, []string) { return nil, nil }

// Prune has nothing to forget.
func (r *Reader) Prune(live func(pid int, start uint64) bool) {}

// Near finds no shells here.
func (r *Reader) Near(holders []NetworkHolder) map[int][]Sign { return nil }
