package sockets_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// churn is a server and its clients in one process, changing its sockets
// one step at a time on "step": new connections, closes from either end
// (TIME_WAIT on both sides), a listener that comes and goes, a UDP socket,
// a connection that waits for an answer that never comes (SYN_SENT), and a
// child that shares its sockets for one step, then exits ("quiet": none).
const churn = `
import ctypes, os, socket, sys, time
def orphaned():  # a child dies with the script (PR_SET_PDEATHSIG, SIGKILL), on a failed test too
    ctypes.CDLL(None).prctl(1, 9)
srv = socket.socket(); srv.bind(("127.0.0.1", 7000)); srv.listen(512)
srv6 = socket.socket(socket.AF_INET6); srv6.bind(("::1", 7000)); srv6.listen(512)
pairs, toggled, udp, waiting, child = [], None, None, None, 0
step = 0
print("ready", flush=True)
for line in sys.stdin:
    step += 1
    if line.startswith("fork"):  # only the owners change: no socket does
        child = os.fork()
        if child == 0:
            orphaned(); time.sleep(3600); os._exit(0)
        print("done", step, flush=True); continue
    if line.startswith("reap"):
        os.kill(child, 9); os.waitpid(child, 0); child = 0
        print("done", step, flush=True); continue
    for i in range(12):
        fam, ln, addr = (socket.AF_INET6, srv6, "::1") if i % 3 == 0 else (socket.AF_INET, srv, "127.0.0.1")
        c = socket.socket(fam); c.connect((addr, 7000)); s, _ = ln.accept(); pairs.append((c, s))
    for c, s in pairs[:3]:   # the client closes first: TIME_WAIT at the client
        c.close(); s.close()
    for c, s in pairs[3:6]:  # the server closes first: TIME_WAIT at the server
        s.close(); c.close()
    c, s = pairs[6]; c.close()   # half closed: CLOSE_WAIT at the server, FIN_WAIT2 at the client
    pairs = pairs[7:]
    if toggled: toggled.close(); toggled = None
    else: toggled = socket.socket(); toggled.bind(("127.0.0.1", 7001)); toggled.listen()
    if udp: udp.close(); udp = None
    else: udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 7002))
    if waiting: waiting.close()
    waiting = socket.socket(); waiting.setblocking(False)
    try: waiting.connect(("192.0.2.99", 80))
    except BlockingIOError: pass
    if line.startswith("quiet"): pass  # no process comes or goes
    elif child: os.kill(child, 9); os.waitpid(child, 0); child = 0
    else:
        child = os.fork()
        if child == 0:
            orphaned(); time.sleep(3600); os._exit(0)
    print("done", step, flush=True)
`

// TestIncrementalEqualsFullUnderChurn drives real sockets through every
// kind of change and, after each round, compares the incremental table
// with a full collection made just after it: sockets, states, cookies and
// owners must be the same, and the incremental collector must not have
// fallen back to a full collection to get there.
func TestIncrementalEqualsFullUnderChurn(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwinc")
	for _, args := range [][]string{
		// A link whose far end answers nobody: a SYN to 192.0.2.99 waits.
		{"link", "add", "pwinc0", "type", "veth", "peer", "name", "pwinc1"},
		{"addr", "add", "192.0.2.1/24", "dev", "pwinc0"},
		{"link", "set", "pwinc0", "up"}, {"link", "set", "pwinc1", "up"},
		{"neigh", "add", "192.0.2.99", "lladdr", "02:00:00:00:00:99", "dev", "pwinc0", "nud", "permanent"},
	} {
		if err := ns.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	feed := feedForTest(t)
	py := sockettest.PythonForTest(t, ns, churn)
	py.Expect(t, "ready")

	q := sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)}
	inc := sockets.NewIncrementalCollector(feed, time.Hour)
	defer inc.Close()
	prev, err := inc.Collect(q)
	if err != nil {
		t.Fatal(err)
	}
	said := 0 // rounds whose snapshot said what it kept of the last
	steps := []string{"step", "step", "quiet", "step", "step", "fork", "reap", "quiet", "step", "step", "quiet"}
	for i, step := range steps {
		round := i + 1
		if got := py.Say(t, step); !strings.HasPrefix(got, "done") {
			t.Fatalf("churn: want done, got %q", got)
		}
		settled := settle(t, q)
		got, err := inc.Collect(q)
		if err != nil {
			t.Fatal(err)
		}
		want := collectFull(t, q)
		if d := tableDiff(table(want), table(got)); d != "" {
			t.Fatalf("round %d: the incremental table differs from a full collection (- full, + incremental):\n%s", round, d)
		}
		if !slices.Equal(table(want), settled) {
			t.Fatalf("round %d: the sockets changed while being compared; the churn did not settle:\n%s", round, tableDiff(settled, table(want)))
		}
		// A fork shares every socket with a new process, a reap ends it:
		// the owners that moved are given again from memory, not by
		// looking at every socket's.
		if (step == "fork" || step == "reap") && inc.Trace() != "changed" {
			t.Fatalf("round %d (%s): the refresh was %q; want one that gave the moved owners again only", round, step, inc.Trace())
		}
		if n := len(got.Sockets); n < 20 {
			t.Fatalf("round %d: %d sockets; the churn made more", round, n)
		}
		first := got.FirstListener()
		if first == 0 || slices.ContainsFunc(got.Sockets[:first], func(s sockets.Socket) bool { return s.Listening() }) {
			t.Fatalf("round %d: a listener before index %d, where the snapshot says none is", round, first)
		}
		if base, n, changed, ok := got.Kept(); ok {
			said++
			if base != prev.Seq() || n > len(prev.Sockets) {
				t.Fatalf("round %d: kept %d sockets of snapshot %d; the last was %d, of %d", round, n, base, prev.Seq(), len(prev.Sockets))
			}
			for i := range n {
				if !slices.Contains(changed, int32(i)) && !prev.Sockets[i].Unchanged(&got.Sockets[i]) {
					t.Fatalf("round %d: socket %d said kept, but %v became %v", round, i, prev.Sockets[i], got.Sockets[i])
				}
			}
		}
		prev = got
	}
	if said < 3 {
		t.Fatalf("%d rounds said what they kept; want at least the three quiet ones", said)
	}
	if inc.Stats.Full != 1 || inc.Stats.Changed < len(steps) || inc.Stats.Lookups == 0 {
		t.Fatalf("stats %+v: want one full collection, then a refresh reading changed sockets each round", inc.Stats)
	}
	// Where no process came or went, only the new sockets' owners were
	// looked for; the rest kept theirs, and the table still matched.
	if inc.Stats.NewOwners < 3 {
		t.Fatalf("stats %+v: want the three quiet rounds to look for new sockets' owners only", inc.Stats)
	}
	// A fresh collection (the dashboard's r) reads everything, finds the
	// table as it was kept, and hands back the same sockets; the next
	// refresh follows the table again.
	kept, _ := inc.Collect(q)
	fresh := q
	fresh.Fresh = true
	resynced, err := inc.Collect(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Stats.Full != 2 || inc.Stats.Drifted != 0 || &kept.Sockets[0] != &resynced.Sockets[0] {
		t.Fatalf("after a fresh collection: stats %+v; want a second full collection that found no drift and kept the table", inc.Stats)
	}
	// Nothing changes now: the same sockets come back, not read again.
	before, _ := inc.Collect(q)
	after, _ := inc.Collect(q)
	if inc.Stats.Full != 2 {
		t.Fatalf("stats %+v: a refresh after the fresh one read everything again", inc.Stats)
	}
	if len(after.Sockets) == 0 || &before.Sockets[0] != &after.Sockets[0] {
		t.Fatalf("a refresh with nothing changed built a new table (stats %+v)", inc.Stats)
	}
}

// settle waits until two full collections in a row agree and no socket is
// half way through a close, and returns that table.
func settle(t *testing.T, q sockets.Query) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	prev := table(collectFull(t, q))
	for time.Now().Before(deadline) {
		cur := table(collectFull(t, q))
		if slices.Equal(prev, cur) && !slices.ContainsFunc(cur, func(s string) bool {
			return strings.Contains(s, "FIN_WAIT1") || strings.Contains(s, "LAST_ACK") || strings.Contains(s, "CLOSING")
		}) {
			return cur
		}
		prev = cur
	}
	t.Fatal("the namespace's sockets did not settle in 10s")
	return nil
}

func collectFull(t *testing.T, q sockets.Query) *sockets.Snapshot {
	t.Helper()
	snap, err := sockets.NewLinuxCollector("/proc", sockets.Netlink).Collect(q)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// table renders every socket and its owners, sorted.
func table(snap *sockets.Snapshot) []string {
	var rows []string
	for _, s := range snap.Sockets {
		var pids []string
		for _, p := range s.Processes {
			pids = append(pids, fmt.Sprint(p.PID, "/", p.StartTicks))
		}
		rows = append(rows, fmt.Sprintf("%s %s uid=%d v6only=%v cookie=%d ns=%d by %s",
			s.ID(), s.State, s.UID, s.V6Only, s.Cookie, s.NetNS, strings.Join(pids, ",")))
	}
	slices.Sort(rows)
	return rows
}

func tableDiff(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintln(&b, "-", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintln(&b, "+", g)
		}
	}
	return b.String()
}

// TestTrustGrowsWhileTheTableProvesRight: each resync that finds the
// table as kept doubles the time to the next, up to four times the least;
// the admin's fresh collection (r) proves nothing and changes none.
func TestTrustGrowsWhileTheTableProvesRight(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwtrust")
	feed := feedForTest(t)
	const least = 100 * time.Millisecond
	q := sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)}
	inc := sockets.NewIncrementalCollector(feed, least)
	defer inc.Close()
	collectUntil := func(full int) {
		t.Helper()
		if !sockettest.WaitFor(10*time.Second, func() bool {
			if _, err := inc.Collect(q); err != nil {
				t.Fatal(err)
			}
			return inc.Stats.Full >= full
		}) {
			t.Fatalf("no full collection %d in 10s (stats %+v)", full, inc.Stats)
		}
	}
	for _, step := range []struct {
		full int
		want time.Duration
	}{{1, least}, {2, 2 * least}, {3, 4 * least}, {4, 4 * least}} {
		collectUntil(step.full)
		if inc.Stats.Trust != step.want || inc.Stats.Drifted != 0 {
			t.Fatalf("after full collection %d: stats %+v; want trust %v", step.full, inc.Stats, step.want)
		}
	}
	fresh := q
	fresh.Fresh = true
	if _, err := inc.Collect(fresh); err != nil || inc.Stats.Trust != 4*least {
		t.Fatalf("after r: stats %+v, %v; want trust unchanged", inc.Stats, err)
	}
}

// TestResyncTakesInWhatTheKernelToldFirst: a listener comes or goes just
// before each resync, after the last refresh. The kernel told of it, so
// the table is not wrong: the resync takes the change in first, finds the
// table right, and the trust grows.
func TestResyncTakesInWhatTheKernelToldFirst(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pwresync")
	feed := feedForTest(t)
	py := sockettest.PythonForTest(t, ns, `
import socket, sys
toggled = None
for line in sys.stdin:
    if toggled: toggled.close(); toggled = None
    else: toggled = socket.socket(); toggled.bind(("127.0.0.1", 7001)); toggled.listen()
    print("done", flush=True)`)

	const least = 150 * time.Millisecond
	q := sockets.Query{NetNS: sockets.NetNSFilter(ns.Name)}
	inc := sockets.NewIncrementalCollector(feed, least)
	defer inc.Close()
	if _, err := inc.Collect(q); err != nil {
		t.Fatal(err)
	}
	for round := range 4 {
		full := inc.Stats.Full
		if got := py.Say(t, "toggle"); got != "done" {
			t.Fatalf("the listener's process said %q", got)
		}
		// The resync is due on a timer: time must pass, not a process.
		time.Sleep(inc.Stats.Trust)
		snap, err := inc.Collect(q)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Stats.Full != full+1 {
			t.Fatalf("round %d: stats %+v; want a resync", round, inc.Stats)
		}
		listening := slices.ContainsFunc(snap.Sockets, func(s sockets.Socket) bool { return s.Listening() && s.Local.Port() == 7001 })
		if listening != (round%2 == 0) {
			t.Fatalf("round %d: the listener on 7001 is there: %v", round, listening)
		}
	}
	if inc.Stats.Drifted != 0 || inc.Stats.Trust <= least {
		t.Fatalf("stats %+v: a change the kernel told made the table look wrong", inc.Stats)
	}
}
