package recorder

import (
	"time"

	"github.com/portwarden/portwarden/services/history"
)

// Options configure a recorder.
type Options struct {
	DB        *history.DB
	Retention history.Retention
	// Source is "ebpf" (fail if it cannot load), "poll" (never try eBPF),
	// or "" / "auto" (eBPF, else polling, saying why).
	Source string
	// Interval is how often UDP (and, when polling, TCP) is dumped and the
	// record committed; 0 means a second.
	Interval time.Duration
	// Status receives lines for the admin: how the recorder runs, why it
	// fell back, what failed.
	Status func(line string)
}

func (o *Options) interval() time.Duration {
	if o.Interval <= 0 {
		return time.Second
	}
	return o.Interval
}

func (o *Options) status(line string) {
	if o.Status != nil {
		o.Status(line)
	}
}

// trimEvery is how often retention runs while recording.
const trimEvery = 10 * time.Minute
