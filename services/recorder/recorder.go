package recorder

import (
	"fmt"
	"time"

	"github.com/portwarden/portwarden/services/history"
)

// snmpPath holds the kernel's protocol counters of the recorder's own
// network namespace.
const snmpPath = "/proc/net/snmp"

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
	// fell back. Errors receives what failed (the same line repeating is
	// said once a minute, with its count).
	Status, Errors func(line string)
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

// errorLine hands line to Errors, or to Status when there is none.
func (o *Options) errorLine(line string) {
	if o.Errors != nil {
		o.Errors(line)
		return
	}
	o.status(line)
}

// errorSaid is when an error line was last said, and how often it came
// since.
type errorSaid struct {
	at       time.Time
	repeated int
}

// sayError hands line to Errors (or Status) — a line repeating only once
// a minute, with how many times it came.
func (o *Options) sayError(said map[string]*errorSaid, line string, now time.Time) {
	last := said[line]
	if last != nil && now.Sub(last.at) < time.Minute {
		last.repeated++
		return
	}
	if last != nil && last.repeated > 0 {
		o.errorLine(fmt.Sprintf("%s (%d times since %s)", line, last.repeated+1, last.at.Format(time.TimeOnly)))
	} else {
		o.errorLine(line)
	}
	if len(said) > 64 {
		clear(said)
	}
	said[line] = &errorSaid{at: now}
}

// reserve is the room a recorder keeps free on the record's filesystem
// of size bytes: a twentieth, at least 512 KiB, at most 64 MiB. Below
// twice that, the write-ahead log is folded in and truncated; below it,
// the oldest lifetimes make way — before a write can fail: on a disk
// already full, SQLite can neither delete nor fold its log in.
func reserve(size int64) int64 { return min(max(512<<10, size/20), 64<<20) }

// trimEvery is how often retention runs while recording.
const trimEvery = 10 * time.Minute
