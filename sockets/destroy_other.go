//go:build !linux

package sockets

import "errors"

// Errors of Destroy.
var (
	ErrDestroyUnsupported = errors.New("closing a connection from outside needs Linux's sock_diag: kill the process instead")
	ErrClosed             = errors.New("no such connection: it has closed already")
)

// Destroy cannot close a connection here.
func Destroy(nsPath string, s *Socket) error { return ErrDestroyUnsupported }

// Open cannot tell here.
func Open(nsPath string, s *Socket) (bool, error) { return false, ErrDestroyUnsupported }
