package sockets_test

import (
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestNewSocketsFindTheirOwnersWithoutAWalk: a process that was there
// opens a listener (the kernel names it), and a new one opens a UDP socket
// (the kernel names nobody). Each refresh finds the owner where it looks
// first — the processes named, the new ones — not by reading every
// process's fds again.
func TestNewSocketsFindTheirOwnersWithoutAWalk(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwowners")
	feed := feedForTest(t)
	py := sockettest.PythonForTest(t, ns, `
import os, socket, sys, time
held = []
print("ready", flush=True)
for line in sys.stdin:
    if line.startswith("listen"):
        s = socket.socket(); s.bind(("127.0.0.1", 7001)); s.listen(); held.append(s)
        print("done", flush=True)
    else:
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            for s in held: s.close()  # a new process holding none of the old sockets
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 7002))
            os.write(w, b"x"); time.sleep(3600); os._exit(0)
        os.read(r, 1)
        print("child", child, flush=True)`)
	say := func(what string) {
		t.Helper()
		if child, ok := strings.CutPrefix(py.Say(t, what), "child "); ok {
			pid, err := strconv.Atoi(child)
			if err != nil {
				t.Fatalf("the process said %q", child)
			}
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // the child it started, by its PID
		}
	}
	py.Expect(t, "ready")

	q := sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)}
	inc := sockets.NewIncrementalCollector(feed, time.Hour)
	defer inc.Close()
	if _, err := inc.Collect(q); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ say, proto string }{{"listen", "tcp"}, {"udp", "udp"}} {
		say(step.say)
		snap, err := inc.Collect(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := inc.Trace(); got != "changed" {
			t.Fatalf("%s: the refresh was %q; want one that looked for the new socket's owner only", step.say, got)
		}
		var found *sockets.Socket
		for i := range snap.Sockets {
			if s := &snap.Sockets[i]; s.Proto.String() == step.proto && (s.Local.Port() == 7001 || s.Local.Port() == 7002) {
				found = s
			}
		}
		if found == nil || len(found.Processes) != 1 || found.Processes[0].Name != "python3" {
			t.Fatalf("%s: the new socket is %+v; want it held by python3", step.say, found)
		}
	}
}

// lateFeed passes the kernel's changes on a call late when told to: its
// word on a socket then comes after the dump that found it, as it does
// when a listener comes between a refresh's read of the feed and its
// dumps — a race this test cannot time, so it holds the changes back.
type lateFeed struct {
	feed sockets.ChangeFeed
	hold bool // the next call returns nothing and keeps what it read
	held []sockets.TCPChange
}

func (f *lateFeed) Changes(buf []sockets.TCPChange) ([]sockets.TCPChange, bool, error) {
	if f.hold {
		f.hold = false
		var lost bool
		var err error
		f.held, lost, err = f.feed.Changes(f.held[:0])
		return buf, lost, err
	}
	buf = append(buf, f.held...)
	f.held = f.held[:0]
	return f.feed.Changes(buf)
}

// TestAListenerAheadOfItsEventFindsItsOwner: the dumps find a listener
// whose event the refresh has not read yet. The refresh reads the events
// that came since, looks in the process they name, and keeps them for the
// next refresh: no process's fds are read but that one's.
func TestAListenerAheadOfItsEventFindsItsOwner(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwahead")
	py := sockettest.PythonForTest(t, ns, `
import socket, sys
held = []
print("ready", flush=True)
for line in sys.stdin:
    s = socket.socket(); s.bind(("127.0.0.1", 7001 + len(held))); s.listen(); held.append(s)
    print("done", flush=True)`)
	py.Expect(t, "ready")
	feed := &lateFeed{feed: feedForTest(t)}
	q := sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)}
	inc := sockets.NewIncrementalCollector(feed, time.Hour)
	defer inc.Close()
	if _, err := inc.Collect(q); err != nil {
		t.Fatal(err)
	}
	for round, port := range []uint16{7001, 7002} {
		feed.hold = round == 0 // the first listener's event comes late
		if got := py.Say(t, "listen"); got != "done" {
			t.Fatalf("the process said %q", got)
		}
		snap, err := inc.Collect(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := inc.Trace(); got != "changed" {
			t.Fatalf("round %d: the refresh was %q; want one that looked in the process named only", round, got)
		}
		i := slices.IndexFunc(snap.Sockets, func(s sockets.Socket) bool { return s.Listening() && s.Local.Port() == port })
		if i < 0 {
			t.Fatalf("round %d: no listener on %d", round, port)
		}
		if s := snap.Sockets[i]; len(s.Processes) != 1 || s.Processes[0].PID != py.Cmd.Process.Pid {
			t.Fatalf("round %d: the listener on %d is held by %v; want pid %d", round, port, s.Processes, py.Cmd.Process.Pid)
		}
	}
}

// feedForTest loads the kernel's change feed (the recorder's eBPF program
// in its every-change mode), closed when t ends.
func feedForTest(t *testing.T) *tcpevents.Feed {
	t.Helper()
	feed, err := tcpevents.OpenFeed()
	if err != nil {
		t.Fatalf("eBPF (root, BTF) is needed: %v", err)
	}
	t.Cleanup(func() { feed.Close() })
	return feed
}
