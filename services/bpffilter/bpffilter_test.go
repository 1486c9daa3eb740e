package bpffilter

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets"
)

// compile has the real tcpdump compile expr for an Ethernet link (lo
// has Ethernet's header), as tcpdump -ddd prints it.
func compile(t *testing.T, expr string) []sockets.FilterInstruction {
	t.Helper()
	out, err := exec.Command("tcpdump", "-i", "lo", "-ddd", expr).Output()
	if err != nil {
		t.Fatalf("tcpdump -ddd %q: %v (tcpdump is installed by scripts/test.sh)", expr, err)
	}
	lines := strings.Fields(string(out))
	var prog []sockets.FilterInstruction
	for i := 1; i+3 < len(lines); i += 4 {
		n := make([]uint64, 4)
		for k := range n {
			if n[k], err = strconv.ParseUint(lines[i+k], 10, 32); err != nil {
				t.Fatalf("tcpdump said %q", out)
			}
		}
		prog = append(prog, sockets.FilterInstruction{Op: uint16(n[0]), Jt: uint8(n[1]), Jf: uint8(n[2]), K: uint32(n[3])})
	}
	return prog
}

// bpfdoor is the filter BPFDoor attaches to its packet socket, as
// published analyses disassemble it: a UDP or ICMP packet whose first
// payload bytes are 0x7255, or a TCP segment whose payload starts 0x5293.
var bpfdoor = program([][4]uint32{
	{0x28, 0, 0, 0x0000000c},   // ldh [12]
	{0x15, 0, 27, 0x00000800},  // jeq #0x800
	{0x30, 0, 0, 0x00000017},   // ldb [23]
	{0x15, 0, 5, 0x00000011},   // jeq #0x11
	{0x28, 0, 0, 0x00000014},   // ldh [20]
	{0x45, 23, 0, 0x00001fff},  // jset #0x1fff
	{0xb1, 0, 0, 0x0000000e},   // ldxb 4*([14]&0xf)
	{0x48, 0, 0, 0x00000016},   // ldh [x + 22]
	{0x15, 19, 20, 0x00007255}, // jeq #0x7255
	{0x15, 0, 7, 0x00000001},   // jeq #0x1
	{0x28, 0, 0, 0x00000014},   // ldh [20]
	{0x45, 17, 0, 0x00001fff},  // jset #0x1fff
	{0xb1, 0, 0, 0x0000000e},   // ldxb 4*([14]&0xf)
	{0x48, 0, 0, 0x00000016},   // ldh [x + 22]
	{0x15, 0, 14, 0x00007255},  // jeq #0x7255
	{0x50, 0, 0, 0x0000000e},   // ldb [x + 14]
	{0x15, 11, 12, 0x00000008}, // jeq #0x8
	{0x15, 0, 11, 0x00000006},  // jeq #0x6
	{0x28, 0, 0, 0x00000014},   // ldh [20]
	{0x45, 9, 0, 0x00001fff},   // jset #0x1fff
	{0xb1, 0, 0, 0x0000000e},   // ldxb 4*([14]&0xf)
	{0x50, 0, 0, 0x0000001a},   // ldb [x + 26]
	{0x54, 0, 0, 0x000000f0},   // and #0xf0
	{0x74, 0, 0, 0x00000002},   // rsh #2
	{0x0c, 0, 0, 0x00000000},   // add x
	{0x07, 0, 0, 0x00000000},   // tax
	{0x48, 0, 0, 0x0000000e},   // ldh [x + 14]
	{0x15, 0, 1, 0x00005293},   // jeq #0x5293
	{0x06, 0, 0, 0x0000ffff},   // ret #0xffff
	{0x06, 0, 0, 0x00000000},   // ret #0
})

// program turns {code, jt, jf, k} rows into instructions.
func program(rows [][4]uint32) []sockets.FilterInstruction {
	out := make([]sockets.FilterInstruction, len(rows))
	for i, r := range rows {
		out[i] = sockets.FilterInstruction{Op: uint16(r[0]), Jt: uint8(r[1]), Jf: uint8(r[2]), K: r[3]}
	}
	return out
}

func TestTriggers(t *testing.T) {
	got := Triggers(bpfdoor)
	want := []string{
		"the 2 bytes 8 into the transport header equal 0x7255 (instruction 8)",
		"the 2 bytes 8 into the transport header equal 0x7255 (instruction 14)",
		"the first 2 bytes of the TCP payload equal 0x5293 (instruction 27)",
	}
	if len(got) != len(want) {
		t.Fatalf("BPFDoor's filter: want %d triggers, got %v", len(want), got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("trigger %d: want %q, got %q", i, want[i], got[i])
		}
	}
	if d := Disassemble(bpfdoor); d[6] != "ldx 4*([14]&0xf)" || d[7] != "ldh [x + 22]" {
		t.Errorf("disassembly: got %q", d)
	}

	for expr, triggers := range map[string]int{
		// What admins and daemons filter on: no trigger.
		"tcp port 22": 0, "udp port 53 or icmp": 0, "arp or vlan": 0, "ip6 dst host 2001:db8::1": 0,
		"tcp[13] = 2": 0, "host 198.51.100.7 and not tcp port 22": 0, "icmp[icmptype] = icmp-echo": 0,
		"udp dst port 67 or udp dst port 68": 0,
		// Payload bytes against a constant: a trigger.
		"udp[8:2] = 0x7255": 1, "icmp[8:4] = 0x39393939": 1,
	} {
		if got := Triggers(compile(t, expr)); len(got) != triggers {
			t.Errorf("%q: want %d triggers, got %v", expr, triggers, got)
		}
	}
}

// FuzzTriggers feeds random programs — a filter is the attacker's to
// write — to the analysis and the disassembly: neither may panic, and a
// trigger must point at a comparison inside the program.
func FuzzTriggers(f *testing.F) {
	f.Add(encode(bpfdoor))
	f.Add([]byte{0x28, 0, 0, 0, 12, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var prog []sockets.FilterInstruction
		for ; len(b) >= 8 && len(prog) < 4096; b = b[8:] {
			prog = append(prog, sockets.FilterInstruction{Op: uint16(b[0]) | uint16(b[1])<<8, Jt: b[2], Jf: b[3],
				K: uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24})
		}
		if d := Disassemble(prog); len(d) != len(prog) {
			t.Fatalf("%d instructions disassembled as %d lines", len(prog), len(d))
		}
		for _, tr := range Triggers(prog) {
			if tr.Instruction < 0 || tr.Instruction >= len(prog) || tr.Size < 2 {
				t.Fatalf("trigger %+v outside a program of %d", tr, len(prog))
			}
		}
	})
}

func encode(prog []sockets.FilterInstruction) []byte {
	var b []byte
	for _, in := range prog {
		b = append(b, byte(in.Op), byte(in.Op>>8), in.Jt, in.Jf, byte(in.K), byte(in.K>>8), byte(in.K>>16), byte(in.K>>24))
	}
	return b
}
