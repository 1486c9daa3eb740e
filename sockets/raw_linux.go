package sockets

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/portwarden/portwarden/internal/netns"
)

// wantsRaw reports whether a query asks for packet and raw sockets: those
// that single out neither TCP nor UDP do.
func (q Query) wantsRaw() bool { return !q.TCP && !q.UDP }

// dumpRaw sends a sock_diag dump request and appends each answer parse
// decodes; it counts the answers it could not.
func (d *netlinkDumper) dumpRaw(req []byte, parse func([]byte) (RawSocket, bool), out []RawSocket) ([]RawSocket, int, error) {
	malformed := 0
	err := d.exchange(req, func(buf []byte) error {
		return eachDiagMsg(buf, func(body []byte) {
			if r, ok := parse(body); ok {
				out = append(out, r)
			} else {
				malformed++
			}
		})
	})
	return out, malformed, err
}

// rawTable is one kernel list of raw sockets, with its sock_diag request
// and its /proc/net file.
type rawTable struct {
	name      string // "packet", "raw", "raw6": the /proc/net file
	ipv6      bool
	request   func(seq uint32) []byte
	parse     func([]byte) (RawSocket, bool)
	parseProc func(f *os.File) ([]RawSocket, int, error)
}

var rawTables = [...]rawTable{
	{name: "packet", request: packetDiagRequest, parse: parsePacketDiagMsg,
		parseProc: func(f *os.File) ([]RawSocket, int, error) { return parseProcPacket(f) }},
	{name: "raw", request: func(seq uint32) []byte { return inetDiagRequest(afInet, ipprotoRaw, ^uint32(0), seq) },
		parse: parseRawDiagMsg, parseProc: func(f *os.File) ([]RawSocket, int, error) { return parseProcRaw(f, false) }},
	{name: "raw6", ipv6: true, request: func(seq uint32) []byte { return inetDiagRequest(afInet6, ipprotoRaw, ^uint32(0), seq) },
		parse: parseRawDiagMsg, parseProc: func(f *os.File) ([]RawSocket, int, error) { return parseProcRaw(f, true) }},
}

func (t rawTable) wanted(q Query) bool {
	switch t.name {
	case "raw":
		return q.wants4()
	case "raw6":
		return q.wants6()
	}
	return true
}

// readRawIn appends the packet and raw sockets of one namespace: from
// sock_diag where the kernel answers (nl may be nil), else from the
// namespace's /proc/net files, which do not tell filters — warn says so.
func readRawIn(q Query, ns nsTarget, nl *netlinkDumper, procNet string, out []RawSocket, e *enumeration, warn func(string)) ([]RawSocket, error) {
	before := len(out)
	for _, t := range rawTables {
		if !t.wanted(q) {
			continue
		}
		if nl != nil {
			nl.seq++
			start := len(out)
			var bad int
			var err error
			out, bad, err = nl.dumpRaw(t.request(nl.seq), t.parse, out)
			e.malformed["netlink "+t.name] += bad
			if err == nil {
				continue
			}
			out = out[:start]
			if procNet == "" {
				// A namespace no process lives in may still hold sockets
				// (made there by a process that left): said, not fatal.
				warn(fmt.Sprintf("%s sockets%s: not read: sock_diag failed (%v) and no process lives there to read /proc/PID/net/%s from", t.name, ns.where(), err, t.name))
				continue
			}
			warn(fmt.Sprintf("%s sockets: sock_diag does not answer (%v): read from /proc/net/%s, their interfaces and filters through their holders", t.name, err, t.name))
		}
		if procNet == "" {
			continue
		}
		f, err := os.Open(procNet + "/" + t.name)
		if errors.Is(err, os.ErrNotExist) {
			continue // the protocol is compiled out
		}
		if err != nil {
			return out, fmt.Errorf("%s sockets: %w", t.name, err)
		}
		got, bad, err := t.parseProc(f)
		f.Close()
		e.malformed[procNet+"/"+t.name] += bad
		if err != nil {
			return out, err
		}
		out = append(out, got...)
	}
	for i := before; i < len(out); i++ {
		out[i].NetNS = ns.Inode
	}
	nameInterfaces(ns, out[before:])
	return out, nil
}

// where is " in network namespace NAME", or "" for portwarden's own.
func (t nsTarget) where() string {
	if t.self {
		return ""
	}
	return " in network namespace " + t.Label()
}

// nameInterfaces names the interfaces raw sockets are bound to, as their
// namespace names them. A name that cannot be read stays "".
func nameInterfaces(ns nsTarget, raws []RawSocket) {
	bound := false
	for i := range raws {
		bound = bound || raws[i].Ifindex != 0
	}
	if !bound {
		return
	}
	var ifs []net.Interface
	read := func() (err error) { ifs, err = net.Interfaces(); return err }
	var err error
	if ns.self {
		err = read()
	} else {
		err = netns.Do(ns.path, read)
	}
	if err != nil {
		return
	}
	for i := range raws {
		for _, f := range ifs {
			if f.Index == raws[i].Ifindex {
				raws[i].Interface = f.Name
			}
		}
	}
}
