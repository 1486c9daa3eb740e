//go:build !linux && !windows

package sockets

import (
	"errors"
	"runtime"
)

// ErrUnsupported is returned where portwarden has no collector.
var ErrUnsupported = errors.New("portwarden: no socket collector for " + runtime.GOOS)

type unsupported struct{}

// NewCollector returns a collector that reports ErrUnsupported.
func NewCollector() Collector { return unsupported{} }

func (unsupported) Collect(Query) (*Snapshot, error) { return nil, ErrUnsupported }

// ReadCgroup returns "": there are no control groups here.
func ReadCgroup(pid int) string { return "" }
