package report

import (
	"net/netip"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// socketEncoder appends the JSON of SocketOf(j, ns, containers) without
// building it: at 100k sockets, encoding/json's garbage doubled the
// snapshot's peak memory. The Socket struct stays the schema; a test and
// a fuzz target hold this encoder to encoding/json's output of it. A
// container's socket, rare and richer, goes through slow (encoding/json).
//
// What sockets share is encoded once: equal verdicts are one value (the
// verdict package interns them) and a process's sockets share its slice
// of holders, so at 100k sockets a few hundred encodings of each stand
// for most of the document.
type socketEncoder struct {
	containers *container.Index
	slow       func(Socket) []byte
	verdicts   map[*verdict.Verdict]verdictJSON
	holders    map[holdersKey][]byte
}

// verdictJSON is a verdict's encoding: the fields before "netns" (from
// "service" on) and those after it.
type verdictJSON struct{ before, after []byte }

// holdersKey names one slice of holders with the signs a verdict gives
// them: the slice by its first element's address and its length.
type holdersKey struct {
	first   **sockets.Process
	n       int
	verdict *verdict.Verdict
}

// sharedLimit bounds each memory of encodings: sockets that share
// nothing (every verdict different) are encoded each on its own.
const sharedLimit = 1 << 12

func newSocketEncoder(containers *container.Index, slow func(Socket) []byte) *socketEncoder {
	return &socketEncoder{containers: containers, slow: slow,
		verdicts: map[*verdict.Verdict]verdictJSON{}, holders: map[holdersKey][]byte{}}
}

// append appends the JSON of j's socket in namespace ns to b.
func (e *socketEncoder) append(b []byte, j *verdict.Judged, ns *sockets.Namespace) []byte {
	s, v := j.Socket, j.Verdict
	if e.containers.Of(s) != nil || e.containers.ForwardOf(s) != nil {
		return append(b, e.slow(SocketOf(j, ns, e.containers))...)
	}
	b = append(b, `{"proto":"`...)
	b = append(b, s.Proto.String()...)
	b = append(b, `","ip_version":`...)
	b = strconv.AppendInt(b, int64(s.IPVersion()), 10)
	b = append(b, `,"state":"`...)
	b = append(b, s.StateName()...)
	b = append(b, `","local_ip":"`...)
	b = s.Local.Addr().AppendTo(b)
	b = append(b, `","local_port":`...)
	b = strconv.AppendUint(b, uint64(s.Local.Port()), 10)
	b = append(b, `,"remote_ip":"`...)
	b = s.Remote.Addr().AppendTo(b)
	b = append(b, `","remote_port":`...)
	b = strconv.AppendUint(b, uint64(s.Remote.Port()), 10)
	b = append(b, `,"uid":`...)
	b = strconv.AppendUint(b, uint64(s.UID), 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, s.Inode, 10)
	if s.Counted {
		b = append(b, `,"rx_bytes":`...)
		b = strconv.AppendUint(b, s.Bytes.Rx, 10)
		b = append(b, `,"tx_bytes":`...)
		b = strconv.AppendUint(b, s.Bytes.Tx, 10)
	} else {
		b = append(b, `,"rx_bytes":null,"tx_bytes":null`...)
	}
	b = append(b, `,"processes":`...)
	b = e.appendHolders(b, s.Processes, v)
	vj := e.verdict(v)
	b = append(b, vj.before...)
	b = append(b, `,"netns":`...)
	if ns == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"inode":`...)
		b = strconv.AppendUint(b, ns.Inode, 10)
		b = append(b, `,"name":`...)
		b = appendOptional(b, ns.Name)
		b = append(b, `,"host":`...)
		b = strconv.AppendBool(b, ns.Host)
		b = append(b, '}')
	}
	return append(b, vj.after...)
}

// appendHolders appends the processes holding a socket, each with the
// signs v gives it, remembering the encoding for the slice's other
// sockets.
func (e *socketEncoder) appendHolders(b []byte, procs []*sockets.Process, v *verdict.Verdict) []byte {
	if len(procs) == 0 {
		return append(b, "[]"...)
	}
	key := holdersKey{&procs[0], len(procs), v}
	if enc, ok := e.holders[key]; ok {
		return append(b, enc...)
	}
	start := len(b)
	b = appendHolders(b, procs, v)
	if e.holders != nil && len(e.holders) < sharedLimit {
		e.holders[key] = slices.Clone(b[start:])
	}
	return b
}

// verdict returns v's encoding, made once.
func (e *socketEncoder) verdict(v *verdict.Verdict) verdictJSON {
	if enc, ok := e.verdicts[v]; ok {
		return enc
	}
	enc := verdictJSON{appendVerdictBefore(nil, v), appendVerdictAfter(nil, v)}
	if e.verdicts != nil && len(e.verdicts) < sharedLimit {
		e.verdicts[v] = enc
	}
	return enc
}

// appendHolders appends procs as a JSON array, each process with the
// signs v gives it.
func appendHolders(b []byte, procs []*sockets.Process, v *verdict.Verdict) []byte {
	b = append(b, '[')
	for i, p := range procs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"pid":`...)
		b = strconv.AppendInt(b, int64(p.PID), 10)
		b = append(b, `,"ppid":`...)
		b = strconv.AppendInt(b, int64(p.PPID), 10)
		b = append(b, `,"name":`...)
		b = appendString(b, p.Name)
		b = append(b, `,"exe":`...)
		b = appendString(b, p.Exe)
		b = append(b, `,"user":`...)
		b = appendString(b, p.User)
		b = append(b, `,"uid":`...)
		b = strconv.AppendUint(b, uint64(p.UID), 10)
		if i < len(v.Signs) && len(v.Signs[i]) > 0 {
			b = append(b, `,"signs":[`...)
			for k, sg := range v.Signs[i] {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"sign":`...)
				b = appendString(b, string(sg.Code))
				b = append(b, `,"detail":`...)
				b = appendString(b, sg.Detail)
				b = append(b, `,"risk":`...)
				b = appendString(b, sg.Risk.String())
				if sg.Ack != "" {
					b = append(b, `,"acknowledged":`...)
					b = appendString(b, sg.Ack)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendVerdictBefore appends the verdict's fields that come before
// "netns", with the comma before them.
func appendVerdictBefore(b []byte, v *verdict.Verdict) []byte {
	b = append(b, `,"service":`...)
	b = appendString(b, v.Service)
	b = append(b, `,"exposure":`...)
	b = appendOptional(b, string(v.Exposure))
	b = append(b, `,"peer":`...)
	b = appendOptional(b, string(v.Peer))
	b = append(b, `,"direction":`...)
	b = appendOptional(b, string(v.Direction))
	b = append(b, `,"expected":`...)
	b = strconv.AppendBool(b, v.Expected)
	b = append(b, `,"login_attempt":`...)
	b = strconv.AppendBool(b, v.LoginAttempt)
	b = append(b, `,"risk":"`...)
	b = append(b, v.Risk.String()...)
	b = append(b, `","reasons":[`...)
	for i, r := range v.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, r)
	}
	return append(b, ']')
}

// appendVerdictAfter appends the fields after "netns" (a socket outside
// containers) and closes the socket's object.
func appendVerdictAfter(b []byte, v *verdict.Verdict) []byte {
	b = append(b, `,"container":null,"published":null,"forwards_to":null,"reach":`...)
	b = appendOptional(b, string(v.Reach()))
	b = append(b, `,"firewall":`...)
	if d := v.Firewall; d == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"verdict":`...)
		b = appendString(b, d.Verdict)
		b = append(b, `,"rule":`...)
		b = appendString(b, d.RuleRef())
		b = append(b, `,"sources":`...)
		b = appendPrefixes(b, d.Sources)
		b = append(b, `,"sources_cut":`...)
		b = strconv.AppendBool(b, d.SourcesCut)
		b = append(b, `,"unsure":`...)
		b = appendPrefixes(b, d.Unsure)
		b = append(b, `,"why":`...)
		b = appendString(b, d.Why)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendPrefixes appends prefixes as a JSON array of strings.
func appendPrefixes(b []byte, prefixes []netip.Prefix) []byte {
	b = append(b, '[')
	for i, p := range prefixes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = p.AppendTo(b)
		b = append(b, '"')
	}
	return append(b, ']')
}

// appendOptional appends s as a string, or null when it is empty.
func appendOptional(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendString appends s as encoding/json writes a string (with HTML
// escaping off) and escapeC1 then escapes: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, so hostile process
// names cannot break the document or a terminal that shows it.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			default:
				b = append(b, `\u00`...)
				b = append(b, hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029' || (r >= 0x80 && r < 0xa0):
			b = append(b, `\u`...)
			b = append(b, hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
