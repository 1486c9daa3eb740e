package sockets_test

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// rawHolder opens, in its namespace, a packet socket bound to lo with a
// classic BPF filter (IPv4 only), a raw ICMP socket bound to lo with one
// too and a raw ICMPv6 one without,
// and prints their inodes; "more" opens another packet socket (every
// protocol, every interface), "less" closes it.
const rawHolder = `
import ctypes, os, socket, struct, sys
def ino(s): return os.fstat(s.fileno()).st_ino
pk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
pk.bind(("lo", 0x0800))
code = [(0x28, 0, 0, 12), (0x15, 0, 1, 0x800), (0x06, 0, 0, 0xffff), (0x06, 0, 0, 0)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *c) for c in code))
pk.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(code), ctypes.addressof(buf)))  # SO_ATTACH_FILTER
r4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r4.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
code4 = [(0x30, 0, 0, 9), (0x15, 0, 1, 1), (0x06, 0, 0, 0xffff), (0x06, 0, 0, 0)]
buf4 = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *c) for c in code4))
r4.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(code4), ctypes.addressof(buf4)))
r6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
print(ino(pk), ino(r4), ino(r6), flush=True)
more = None
for line in sys.stdin:
    if line.startswith("more"):
        more = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3)); print(ino(more), flush=True)
    else:
        more.close(); print("closed", flush=True)
`

// TestRawSockets checks that packet and raw IP sockets are read with
// their protocol, interface, filter and owner: from sock_diag, from
// /proc/net, and by the incremental collector
// between full collections.
func TestRawSockets(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwraw")
	if err := ns.IP("link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "python3", "-c", rawHolder)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	inodes := func() []uint64 {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("raw holder: %v", lines.Err())
		}
		var out []uint64
		for _, f := range strings.Fields(lines.Text()) {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				t.Fatalf("raw holder said %q", lines.Text())
			}
			out = append(out, n)
		}
		return out
	}
	ino := inodes()
	q := sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)}
	byInode := func(snap *sockets.Snapshot, inode uint64) *sockets.RawSocket {
		for i := range snap.Raw {
			if snap.Raw[i].Inode == inode {
				return &snap.Raw[i]
			}
		}
		return nil
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			snap := collect(t, m.method, q)
			pk, r4, r6 := byInode(snap, ino[0]), byInode(snap, ino[1]), byInode(snap, ino[2])
			if pk == nil || r4 == nil || r6 == nil {
				t.Fatalf("want the packet socket and both raw ones, got %+v", snap.Raw)
			}
			if got := pk.String(); got != "packet socket (ip) on lo" {
				t.Errorf("packet socket reads %q", got)
			}
			if got := r4.String() + ", " + r6.String(); got != "raw4 socket (icmp) on lo, raw6 socket (icmpv6) on every interface" {
				t.Errorf("raw sockets read %q", got)
			}
			for _, r := range []*sockets.RawSocket{pk, r4, r6} {
				if len(r.Processes) != 1 || r.Processes[0].PID != cmd.Process.Pid || r.NetNS == 0 {
					t.Errorf("%s: want held by pid %d in the test's namespace, got %v in %d", r, cmd.Process.Pid, r.Processes, r.NetNS)
				}
			}
			want := []sockets.FilterInstruction{{Op: 0x28, K: 12}, {Op: 0x15, Jf: 1, K: 0x800}, {Op: 0x06, K: 0xffff}, {Op: 0x06}}
			// sock_diag gives the packet socket's filter; /proc/net does
			// not, nor raw_diag a raw one's: those are read through the
			// holder's descriptor.
			if pk.FilterState != sockets.FilterAttached || !slices.Equal(pk.Filter, want) {
				t.Errorf("filter: want %v attached, got %v %v", want, pk.FilterState, pk.Filter)
			}
			want4 := []sockets.FilterInstruction{{Op: 0x30, K: 9}, {Op: 0x15, Jf: 1, K: 1}, {Op: 0x06, K: 0xffff}, {Op: 0x06}}
			if r4.FilterState != sockets.FilterAttached || !slices.Equal(r4.Filter, want4) {
				t.Errorf("raw socket's filter: want %v, got %v %v", want4, r4.FilterState, r4.Filter)
			}
			if r6.FilterState != sockets.FilterNone {
				t.Errorf("a raw socket without a filter: got %v", r6.FilterState)
			}
			if slices.Contains(snap.Holders(), pk.Processes[0]) == false {
				t.Errorf("the holder of a raw socket is not among the snapshot's holders")
			}
		})
	}

	t.Run("incremental", func(t *testing.T) {
		feed, err := tcpevents.OpenFeed()
		if err != nil {
			t.Fatalf("eBPF (root, BTF) is needed: %v", err)
		}
		defer feed.Close()
		inc := sockets.NewIncrementalCollector(feed, time.Hour)
		defer inc.Close()
		if _, err := inc.Collect(q); err != nil {
			t.Fatal(err)
		}
		stdin.Write([]byte("more\n"))
		more := inodes()[0]
		snap, err := inc.Collect(q)
		if err != nil {
			t.Fatal(err)
		}
		r := byInode(snap, more)
		if r == nil || r.String() != "packet socket (all) on every interface" || !r.Cooked || len(r.Processes) != 1 {
			t.Fatalf("the new packet socket: got %+v", r)
		}
		stdin.Write([]byte("less\n"))
		if !lines.Scan() {
			t.Fatal(lines.Err())
		}
		if snap, err = inc.Collect(q); err != nil {
			t.Fatal(err)
		}
		if byInode(snap, more) != nil || byInode(snap, ino[0]) == nil {
			t.Errorf("after close: want the first packet socket only, got %+v", snap.Raw)
		}
		if inc.Stats.Full != 1 {
			t.Errorf("want one full collection, the first; stats %+v", inc.Stats)
		}
	})
}

// TestEmptyNamespaceStaysReadable: a namespace no process lives in has
// no /proc/PID/net to fall back on when raw_diag is missing (as on this
// CI's kernel); its TCP and UDP sockets are read all the same.
func TestEmptyNamespaceStaysReadable(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwempty")
	snap := collect(t, sockets.Netlink, sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)})
	if len(snap.Namespaces) != 1 || !snap.Namespaces[0].Entered {
		t.Errorf("namespaces %+v, warnings %q; want %s read", snap.Namespaces, snap.Warnings, ns.Name)
	}
	for _, w := range snap.Warnings {
		if strings.Contains(w, "could not read network namespace") {
			t.Errorf("warning: %s", w)
		}
	}
}
