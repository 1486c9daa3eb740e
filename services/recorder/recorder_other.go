//go:build !linux

package recorder

import (
	"context"
	"errors"
)

// Run says the recorder runs on Linux only.
func Run(context.Context, Options) error {
	return errors.New("record: the flight recorder runs on Linux only")
}
