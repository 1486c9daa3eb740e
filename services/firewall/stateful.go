//go:build linux

package firewall

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// Object is a named stateful object of a table (limit, quota, counter,
// ct count) that rules refer to by name.
type Object struct {
	Family nftables.TableFamily
	Table  string
	Name   string
	Obj    expr.Any // *expr.Limit, *expr.Quota, *expr.Connlimit, *expr.Counter, …
}

// Object types that objref expressions name (NFT_OBJECT_*).
const (
	objCounter   = unix.NFT_OBJECT_COUNTER
	objQuota     = unix.NFT_OBJECT_QUOTA
	objLimit     = unix.NFT_OBJECT_LIMIT
	objConnlimit = unix.NFT_OBJECT_CONNLIMIT
)

// connlimitInvert is NFT_CONNLIMIT_F_INV: "ct count over N".
const connlimitInvert = 1

// stateful compiles a limit, quota or connection count as a new
// connection's first packet meets it: within a rate limit (it matches, and
// the rule is rate-limited), not over it (the rule cannot match). fresh is
// a per-source element a set statement makes for a new source: a quota
// or count starting from nothing. It reports false for anything else.
func (r *rule) stateful(x expr.Any, fresh bool) bool {
	switch e := x.(type) {
	case *expr.Limit:
		what := "limit rate " + rate(e.Rate, e.Unit, e.Type == expr.LimitTypePktBytes)
		if e.Over {
			r.never, r.rate = what+" over", true
		} else {
			r.limited = append(r.limited, what)
		}
	case *expr.Quota:
		used := e.Consumed
		if fresh {
			used = 0
		}
		what := "quota " + strconv.FormatUint(e.Bytes, 10) + " bytes (" + strconv.FormatUint(used, 10) + " used now)"
		if over := used >= e.Bytes; over != e.Over {
			r.never = what
		} else {
			r.limited = append(r.limited, what)
		}
	case *expr.Connlimit:
		if !fresh {
			return false // a count of every connection: what it is now is not in the ruleset
		}
		// The first connection from a source counts 1; the kernel stops a
		// packet when (count > limit) differs from the invert flag.
		what := "ct count " + strconv.FormatUint(uint64(e.Count), 10) + " per source"
		invert := e.Flags&connlimitInvert != 0
		if matches := (1 > e.Count) == invert; matches {
			r.limited = append(r.limited, what)
		} else {
			r.never, r.rate = what, true
		}
	default:
		return false
	}
	return true
}

// xtRateMatch compiles iptables' rate matches as a first connection meets
// them: "-m limit" and "hashlimit --hashlimit-upto" match within their rate;
// "hashlimit --hashlimit-above" does not; "recent --set" records the
// source and matches; "recent --update/--rcheck" looks for a source seen
// before, which a first connection's is not (ufw's "limit" rules).
func (r *rule) xtRateMatch(m *expr.Match) bool {
	info, ok := m.Info.(*xt.Unknown)
	if !ok {
		return false
	}
	b := []byte(*info)
	switch m.Name {
	case "limit":
		r.limited = append(r.limited, "xt limit")
	case "hashlimit":
		// struct xt_hashlimit_mtinfo1/2/3: char name[16] (rev 1) or
		// [255] (rev 2, 3), then struct hashlimit_cfg: u32 mode first.
		off := 16
		if m.Rev >= 2 {
			off = 256 // name[255], aligned
		}
		if m.Rev == 0 || len(b) < off+4 {
			return false
		}
		const invert = 0x10 // XT_HASHLIMIT_INVERT: --hashlimit-above
		if binary.NativeEndian.Uint32(b[off:])&invert != 0 {
			r.never, r.rate = "xt hashlimit --hashlimit-above", true
		} else {
			r.limited = append(r.limited, "xt hashlimit --hashlimit-upto")
		}
	case "connlimit":
		// struct xt_connlimit_info: union nf_inet_addr mask; u32 limit;
		// u32 flags. Grouped per source address (a full mask, not
		// --connlimit-daddr), a first connection from a source counts 1,
		// and the match is (count > limit) unless inverted (--upto).
		if len(b) < 24 {
			return false
		}
		limit, flags := binary.NativeEndian.Uint32(b[16:]), binary.NativeEndian.Uint32(b[20:])
		const invert, daddr = 0x1, 0x2
		full4 := bytes.Equal(b[:4], []byte{0xff, 0xff, 0xff, 0xff}) && allZero(b[4:16])
		if flags&daddr != 0 || !full4 && !bytes.Equal(b[:16], bytes.Repeat([]byte{0xff}, 16)) {
			return false // a count over several sources: what it is now is not in the ruleset
		}
		what := "xt connlimit " + strconv.FormatUint(uint64(limit), 10) + " per source"
		if matches := (1 > limit) != (flags&invert != 0); matches {
			r.limited = append(r.limited, what)
		} else {
			r.never, r.rate = what, true
		}
	case "recent":
		// struct xt_recent_mtinfo: u32 seconds, u32 hit_count, u8
		// check_set, u8 invert, char name[200], u8 side.
		if len(b) < 10 {
			return false
		}
		const set, check, update, remove = 0x2, 0x1, 0x4, 0x8
		flags, invert := b[8], b[9] != 0
		name := strings.TrimRight(string(b[10:min(len(b), 210)]), "\x00")
		switch {
		case flags&set != 0:
			if invert {
				r.never = "xt recent ! --set"
			}
		case flags&(check|update|remove) != 0:
			// A source not on the list: the match is its invert flag.
			if !invert {
				hits := binary.NativeEndian.Uint32(b[4:])
				r.never, r.rate = "xt recent --name "+name+" --hitcount "+strconv.FormatUint(uint64(hits), 10)+" (a first connection is not on the list)", true
			}
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// rate writes a limit's rate: "3/minute", "10 mbytes/second".
func rate(n uint64, unit expr.LimitTime, bytes bool) string {
	units := map[expr.LimitTime]string{expr.LimitTimeSecond: "second", expr.LimitTimeMinute: "minute",
		expr.LimitTimeHour: "hour", expr.LimitTimeDay: "day", expr.LimitTimeWeek: "week"}
	s := strconv.FormatUint(n, 10)
	if bytes {
		s += " bytes"
	}
	return s + "/" + units[unit]
}
