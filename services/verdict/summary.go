package verdict

import (
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/sockets"
)

// RiskyExternal is the least risk at which a connection with an external
// peer fails `portwarden check`.
const RiskyExternal = catalog.Medium

// Fails reports whether the socket makes `portwarden check` fail: an
// unexpected listener, or an external connection at RiskyExternal or above.
func (v *Verdict) Fails() bool {
	return v.Unexpected || (v.External && v.Risk >= RiskyExternal)
}

// Summary counts a snapshot's verdicts.
type Summary struct {
	Listeners     map[sockets.Proto]int
	Unexpected    int
	UnexpectedBy  [catalog.Critical + 1]int // unexpected listeners by risk
	External      map[Direction]int         // external connections by direction
	RiskyExternal int
	SocketsBy     [catalog.Critical + 1]int // every socket by risk
}

// Summarize counts listeners, unexpected listeners, external connections
// and sockets by risk.
func Summarize(judged []Judged) Summary {
	s := Summary{Listeners: map[sockets.Proto]int{}, External: map[Direction]int{}}
	for i := range judged {
		v := &judged[i].Verdict
		if sock := judged[i].Socket; sock.Listening() {
			s.Listeners[sock.Proto]++
		}
		if v.Unexpected {
			s.Unexpected++
			s.UnexpectedBy[v.Risk]++
		}
		if v.External {
			s.External[v.Direction]++
			if v.Risk >= RiskyExternal {
				s.RiskyExternal++
			}
		}
		s.SocketsBy[v.Risk]++
	}
	return s
}

// ListenerCount is the number of TCP listeners and bound UDP sockets.
func (s Summary) ListenerCount() int { return s.Listeners[sockets.TCP] + s.Listeners[sockets.UDP] }

// OK reports whether `portwarden check` passes.
func (s Summary) OK() bool { return s.Unexpected == 0 && s.RiskyExternal == 0 }
