package sockets_test

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// transfer is a server and a client in one process: on "go" the client
// sends up MiB and the server answers with down MiB, then both keep the
// connection open.
const transfer = `
import socket, sys, threading
up, down = int(sys.argv[1]) << 20, int(sys.argv[2]) << 20
srv = socket.socket(); srv.bind(("127.0.0.1", 7100)); srv.listen()
c = socket.socket(); c.connect(("127.0.0.1", 7100)); s, _ = srv.accept()
print("ready", flush=True)
def serve():
    got = 0
    while got < up:
        got += len(s.recv(1 << 20))
    s.sendall(b"d" * down)
for line in sys.stdin:
    t = threading.Thread(target=serve); t.start()
    c.sendall(b"u" * up)
    got = 0
    while got < down:
        got += len(c.recv(1 << 20))
    t.join()
    print("done", flush=True)
`

// TestTrafficCountedByTheKernel sends 50 MiB one way and 5 MiB back over a
// real connection, twice, and reads each end's counters from a full
// collection and from the incremental table the kernel's events keep:
// the totals are the bytes sent, and the incremental table follows them
// without copying its sockets, reading a connection again only once it
// goes quiet.
func TestTrafficCountedByTheKernel(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwbytes")
	feed, err := tcpevents.OpenFeed()
	if err != nil {
		t.Fatalf("eBPF (root, BTF) is needed: %v", err)
	}
	defer feed.Close()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "python3", "-c", transfer, "50", "5")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("transfer: want %q, got %q (%v)", want, lines.Text(), lines.Err())
		}
	}
	expect("ready")

	q := sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)}
	inc := sockets.NewIncrementalCollector(feed, time.Hour)
	defer inc.Close()
	first, err := inc.Collect(q)
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddrPort("127.0.0.1:7100")
	// ends finds the client's and the server's connection in snap, with
	// the counters the snapshot holds for each.
	ends := func(snap *sockets.Snapshot) (client, srv sockets.Traffic) {
		t.Helper()
		var found int
		for i := range snap.Sockets {
			s := &snap.Sockets[i]
			if s.State != sockets.Established {
				continue
			}
			tr, ok := snap.Traffic(s)
			if !ok {
				t.Fatalf("%s: no counters for an established TCP connection", s.ID())
			}
			switch server {
			case s.Remote:
				client, found = tr, found+1
			case s.Local:
				srv, found = tr, found+1
			}
		}
		if found != 2 {
			t.Fatalf("found %d ends of the connection, want 2", found)
		}
		return client, srv
	}
	if c, s := ends(first); c.Tx != 0 || c.Rx != 0 || s.Tx != 0 || s.Rx != 0 {
		t.Fatalf("before any transfer: client %+v, server %+v; want zeros", c, s)
	}
	const mib = 1 << 20
	for round := uint64(1); round <= 3; round++ {
		if round == 3 {
			// A resync that finds the table right hands back the same
			// sockets: the next refreshes still name what moved by its
			// index there.
			fresh := q
			fresh.Fresh = true
			if first, err = inc.Collect(fresh); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintln(stdin, "go")
		expect("done")
		want := sockets.Traffic{Tx: round * 50 * mib, Rx: round * 5 * mib}
		// The last acknowledgement may still be on its way.
		var full *sockets.Snapshot
		if !sockettest.WaitFor(5*time.Second, func() bool {
			full = collectFull(t, q)
			c, _ := ends(full)
			return c == want
		}) {
			c, s := ends(full)
			t.Fatalf("round %d, full collection: client %+v, server %+v; want client %+v", round, c, s, want)
		}
		if _, s := ends(full); s.Rx != want.Tx || s.Tx != want.Rx {
			t.Fatalf("round %d, full collection: the server counted %+v; want rx %d tx %d", round, s, want.Tx, want.Rx)
		}
		var got *sockets.Snapshot
		named := map[netip.AddrPort]bool{} // the ends a refresh said moved
		if !sockettest.WaitFor(5*time.Second, func() bool {
			prev := got
			if got, err = inc.Collect(q); err != nil {
				t.Fatal(err)
			}
			base, moved, _, ok := got.Since()
			if !ok || (prev != nil && base != prev.Seq()) {
				t.Fatalf("a refresh that follows the table does not say it follows the one before (base %d)", base)
			}
			for _, i := range moved {
				named[got.Sockets[i].Local] = true
			}
			c, s := ends(got)
			return c == want && s.Rx == want.Tx && s.Tx == want.Rx
		}) {
			c, s := ends(got)
			t.Fatalf("round %d, incremental: client %+v, server %+v; want client %+v", round, c, s, want)
		}
		if !named[server] || len(named) != 2 {
			t.Fatalf("round %d: the refreshes named %v as moved; want both ends", round, named)
		}
		if &got.Sockets[0] != &first.Sockets[0] {
			t.Fatalf("round %d: counters that moved made a new table (stats %+v)", round, inc.Stats)
		}
	}
	// Each end was read again once at most, as it went quiet, per round.
	if inc.Stats.Full != 2 || inc.Stats.Drifted != 0 || inc.Stats.Lookups > 6 {
		t.Fatalf("stats %+v: want the first full collection and the resync, and at most a lookup per end and round", inc.Stats)
	}
}
