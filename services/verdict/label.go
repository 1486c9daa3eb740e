package verdict

import (
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/sockets"
)

// Judged is a socket with its verdict. The verdict travels with the
// socket, so sorting or filtering judged sockets can never pair a socket
// with another's verdict; both are pointers, so sorting 100k of them moves
// 16 bytes each.
type Judged struct {
	Socket  *sockets.Socket
	Verdict *Verdict // never nil
}

// Class is the one word that sums a verdict up. Every class has a word as
// well as a colour, so its meaning survives NO_COLOR.
type Class uint8

// Classes, from the least to the most pressing.
const (
	ClassPlain      Class = iota // nothing to say
	ClassExpected                // covered by the baseline
	ClassRisky                   // a high-risk service, even if expected
	ClassExternal                // a connection with a public peer
	ClassUnexpected              // a listener the baseline does not cover
)

var classWords = [...]string{"-", "expected", "risky", "EXTERNAL", "UNEXPECTED"}

// String is the class's word: "UNEXPECTED", "EXTERNAL", "risky",
// "expected" or "-".
func (c Class) String() string { return classWords[c] }

// Class returns the verdict's class.
func (v *Verdict) Class() Class {
	switch {
	case v.signedHigh():
		return ClassUnexpected // the loudest colour: a sign is worse than an unlisted port
	case v.Unexpected:
		return ClassUnexpected
	case v.External:
		return ClassExternal
	case v.Risk >= catalog.High:
		return ClassRisky
	case v.Baseline != nil:
		return ClassExpected
	}
	return ClassPlain
}

// Severity ranks verdicts for sorting: the class first, then the risk.
func (v *Verdict) Severity() int {
	c := v.Class()
	if c == ClassExpected {
		return 0
	}
	return 10*int(c) + int(v.Risk)
}

// Label is the class with the risk spelled out where it matters:
// "UNEXPECTED critical", "risky high", "expected", "-".
func (v *Verdict) Label() string { return v.label(v.Risk.String()) }

// ShortLabel is Label for narrow tables: "UNEXPECTED crit".
func (v *Verdict) ShortLabel() string { return v.label(v.Risk.Short()) }

func (v *Verdict) label(risk string) string {
	if v.signedHigh() { // a sign of a rogue process outranks the rest
		return "SIGN " + risk
	}
	if v.Blocked != nil { // a word as well as the colour
		if v.Risk == catalog.None {
			return "BLOCKED"
		}
		return "BLOCKED " + risk
	}
	c := v.Class()
	if v.LoginAttempt && c != ClassPlain && c != ClassExpected && v.Risk != catalog.None {
		return "PREAUTH " + risk // a login attempt, nobody logged in: not a session
	}
	if v.LoginAttempt {
		return "PREAUTH"
	}
	if c == ClassPlain || c == ClassExpected || v.Risk == catalog.None {
		return c.String()
	}
	return c.String() + " " + risk
}

// signedHigh reports whether a sign of a rogue process at high risk or
// above is on the socket's processes: it takes over the label. Lower
// ones (an unpackaged binary) are shown in the reasons.
func (v *Verdict) signedHigh() bool {
	r, ok := v.SignRisk()
	return ok && r >= catalog.High
}
