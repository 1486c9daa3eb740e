package report

import (
	"bufio"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// WriteJSON writes the snapshot and its verdicts (one per socket, in the
// same order) as one JSON object:
//
//	{"time": RFC 3339, "host": ..., "complete": bool, "source": ...,
//	 "warnings": [...], "sockets": [{"proto", "ip_version", "state",
//	 "local_ip", "local_port", "remote_ip", "remote_port", "uid", "inode",
//	 "processes": [{"pid", "ppid", "name", "exe", "user", "uid"}],
//	 "service", "exposure", "peer", "direction", "expected", "risk",
//	 "reasons": [...]}]}
//
// It streams socket by socket, so memory stays flat at 100k sockets.
func WriteJSON(w io.Writer, host string, snap *sockets.Snapshot, verdicts []verdict.Verdict) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, 1024)
	b = append(b, `{"time":`...)
	b = appendString(b, snap.Time.Format(time.RFC3339))
	b = append(b, `,"host":`...)
	b = appendString(b, host)
	b = append(b, `,"complete":`...)
	b = strconv.AppendBool(b, snap.Complete)
	b = append(b, `,"source":`...)
	b = appendString(b, snap.Source)
	b = append(b, `,"warnings":[`...)
	for i, warn := range snap.Warnings {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, warn)
	}
	b = append(b, `],"sockets":[`...)
	for i := range snap.Sockets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = appendSocket(b, &snap.Sockets[i], &verdicts[i])
		if len(b) > 32<<10 {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	b = append(b, "]}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

func appendSocket(b []byte, s *sockets.Socket, v *verdict.Verdict) []byte {
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
	b = append(b, `,"processes":[`...)
	for i, p := range s.Processes {
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
		b = append(b, '}')
	}
	b = append(b, `],"service":`...)
	b = appendString(b, v.Service)
	b = append(b, `,"exposure":`...)
	b = appendOptional(b, string(v.Exposure))
	b = append(b, `,"peer":`...)
	b = appendOptional(b, string(v.Peer))
	b = append(b, `,"direction":`...)
	b = appendOptional(b, string(v.Direction))
	b = append(b, `,"expected":`...)
	b = strconv.AppendBool(b, v.Expected)
	b = append(b, `,"risk":"`...)
	b = append(b, v.Risk.String()...)
	b = append(b, `","reasons":[`...)
	for i, r := range v.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, r)
	}
	return append(b, "]}"...)
}

// appendOptional appends s as a string, or null when it is empty.
func appendOptional(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendString appends s as a JSON string: quotes, backslashes and control
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
			case '\t':
				b = append(b, `\t`...)
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
