// Package bpffilter reads the classic BPF filters attached to packet and
// raw sockets: their instructions in tcpdump's words (tcpdump -d), and the
// comparisons that make one a trigger — packet bytes past the start of
// the transport header tested against constants, the way BPFDoor wakes
// on a magic packet. Decoding is golang.org/x/net/bpf's.
package bpffilter

import (
	"fmt"
	"strconv"

	"golang.org/x/net/bpf"

	"github.com/portwarden/portwarden/sockets"
)

// Disassemble renders each instruction as tcpdump -d does: "ldh [12]",
// "jeq #0x800 ...". An instruction x/net/bpf cannot decode reads "?"
// with its opcode.
func Disassemble(prog []sockets.FilterInstruction) []string {
	out := make([]string, len(prog))
	for i, in := range decode(prog) {
		if s, ok := in.(fmt.Stringer); ok {
			out[i] = s.String()
		} else {
			out[i] = fmt.Sprintf("? opcode %#04x", prog[i].Op)
		}
	}
	return out
}

func decode(prog []sockets.FilterInstruction) []bpf.Instruction {
	raw := make([]bpf.RawInstruction, len(prog))
	for i, in := range prog {
		raw[i] = bpf.RawInstruction{Op: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	insts, _ := bpf.Disassemble(raw)
	return insts
}

// Trigger is one comparison of packet bytes with a constant, past the
// first eight bytes of the transport header: what no port, address or
// protocol test needs, and what a magic-packet backdoor does.
type Trigger struct {
	Instruction int // its index in the program
	// Payload is set when the bytes are at the start of the TCP
	// payload (the filter computed the TCP header's length); else
	// Offset is how far into the transport header they are.
	Payload bool
	Offset  int
	Size    int // bytes compared: 2 or 4
	Value   uint32
}

// String says what the trigger tests: "the 2 bytes 8 into the transport
// header equal 0x7255".
func (t Trigger) String() string {
	where := "the " + strconv.Itoa(t.Size) + " bytes " + strconv.Itoa(t.Offset) + " into the transport header"
	if t.Payload {
		where = "the first " + strconv.Itoa(t.Size) + " bytes of the TCP payload"
		if t.Offset > 0 {
			where = "the " + strconv.Itoa(t.Size) + " bytes " + strconv.Itoa(t.Offset) + " into the TCP payload"
		}
	}
	return fmt.Sprintf("%s equal %#x (instruction %d)", where, t.Value, t.Instruction)
}

// xKind is what the filter's index register holds, as far as followed.
type xKind uint8

const (
	xUnknown  xKind = iota
	xIPHeader       // the IPv4 header's length: ldx 4*([k]&0xf)
	xPayload        // the IPv4 and TCP headers' lengths together
)

// aLoad is where the accumulator's value came from.
type aLoad struct {
	loaded   bool // a plain load of packet bytes, unchanged since
	indirect bool
	x        xKind
	rel      int // the offset from the transport header (or the payload)
	size     int
	tcpOff   bool // derived from the TCP data-offset byte: on its way to X
}

// state is what is known at an instruction, on every path that reaches
// it: where A came from, what X holds, and where the IP header starts.
type state struct {
	a    aLoad
	x    xKind
	base int
}

// merge is what two paths agree on.
func merge(s, o state) state {
	if s.a != o.a {
		s.a = aLoad{}
	}
	if s.x != o.x || s.base != o.base {
		s.x, s.base = xUnknown, 0
	}
	return s
}

// Triggers lists the comparisons of bytes at least eight into the
// transport header, or in the TCP payload, with a constant. It follows
// the filter's own header-length arithmetic (ldx 4*([k]&0xf) for the IP
// header, the TCP data offset for the payload) along every path (classic
// BPF jumps only forward), and keeps to 2- and 4-byte loads: a
// single-byte test is the TCP flags, a port or address test is nearer the
// start. Absolute loads are not judged: without knowing which IP version
// a branch reads, an IPv6 address looks like a payload.
func Triggers(prog []sockets.FilterInstruction) []Trigger {
	insts := decode(prog)
	at := make([]*state, len(insts)+1)
	at[0] = &state{}
	flow := func(to int, s state) {
		if to < 0 || to >= len(at) {
			return
		}
		if at[to] == nil {
			at[to] = &s
			return
		}
		*at[to] = merge(*at[to], s)
	}
	var out []Trigger
	for i, in := range insts {
		if at[i] == nil {
			continue // unreachable
		}
		s := *at[i]
		next := true
		switch in := in.(type) {
		case bpf.LoadMemShift:
			s.x, s.base, s.a = xIPHeader, int(in.Off), aLoad{}
		case bpf.LoadIndirect:
			s.a = aLoad{loaded: true, indirect: true, x: s.x, rel: int(in.Off) - s.base, size: in.Size}
		case bpf.LoadConstant:
			if in.Dst == bpf.RegX {
				s.x = xUnknown
			} else {
				s.a = aLoad{}
			}
		case bpf.LoadScratch:
			if in.Dst == bpf.RegX {
				s.x = xUnknown
			} else {
				s.a = aLoad{}
			}
		case bpf.ALUOpConstant, bpf.ALUOpX, bpf.NegateA:
			// The TCP data offset (12 into the header), masked and
			// shifted into bytes, then added to the IP header length.
			a := s.a
			s.a = aLoad{tcpOff: a.tcpOff || (a.loaded && a.indirect && a.x == xIPHeader && a.rel == 12 && a.size == 1)}
		case bpf.TAX:
			if s.a.tcpOff && s.x == xIPHeader {
				s.x = xPayload
			} else {
				s.x = xUnknown
			}
		case bpf.Jump:
			flow(i+1+int(in.Skip), s)
			next = false
		case bpf.JumpIf:
			a := s.a
			if (in.Cond == bpf.JumpEqual || in.Cond == bpf.JumpNotEqual) && a.loaded && a.indirect && a.size >= 2 {
				switch {
				case a.x == xPayload:
					out = append(out, Trigger{Instruction: i, Payload: true, Offset: a.rel, Size: a.size, Value: in.Val})
				case a.x == xIPHeader && a.rel >= 8:
					out = append(out, Trigger{Instruction: i, Offset: a.rel, Size: a.size, Value: in.Val})
				}
			}
			flow(i+1+int(in.SkipTrue), s)
			flow(i+1+int(in.SkipFalse), s)
			next = false
		case bpf.JumpIfX:
			flow(i+1+int(in.SkipTrue), s)
			flow(i+1+int(in.SkipFalse), s)
			next = false
		case bpf.RetA, bpf.RetConstant:
			next = false
		case bpf.LoadAbsolute, bpf.LoadExtension, bpf.TXA:
			s.a = aLoad{}
		}
		if next {
			flow(i+1, s)
		}
	}
	return out
}
