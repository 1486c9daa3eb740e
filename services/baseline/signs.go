package baseline

import (
	"fmt"
	"path"
	"time"
)

// SignAck acknowledges one sign of a rogue process for one executable,
// with the reason: the sign is still shown, but no longer raises the risk
// or fails the check. It names both, so it never silences a sign
// everywhere.
type SignAck struct {
	Sign   string    `toml:"sign"` // "exe-unpackaged"
	Exe    string    `toml:"exe"`  // the executable's absolute path, exactly
	Reason string    `toml:"reason"`
	Owner  string    `toml:"owner"`
	Added  time.Time `toml:"added"`
}

// Validate reports what makes an acknowledgement unusable: no sign, no
// absolute executable path, or no reason.
func (a *SignAck) Validate() error {
	switch {
	case a.Sign == "":
		return fmt.Errorf("a sign to acknowledge is required (like \"exe-unpackaged\")")
	case a.Exe == "" || !path.IsAbs(a.Exe):
		return fmt.Errorf("exe %q: the executable's absolute path is required", a.Exe)
	case a.Reason == "":
		return fmt.Errorf("a reason is required")
	}
	return nil
}

// Acknowledged returns the acknowledgement of sign for exe, or nil.
func (b *Baseline) Acknowledged(sign, exe string) *SignAck {
	for i := range b.Signs {
		if a := &b.Signs[i]; a.Sign == sign && a.Exe == exe {
			return a
		}
	}
	return nil
}
