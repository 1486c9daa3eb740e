package app

import (
	"reflect"
	"testing"

	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestChangedRefreshJudgesWhatChanged: a real client in one namespace
// opens connections to three ports of an external-looking server (three
// verdicts), closes some (TIME_WAIT, and others moved into their place in
// the collector's table) and
// toggles a listener, one step per refresh, as the dashboard sees it (the
// kernel's events between dumps). Each refresh's verdicts must be what
// judging every socket afresh gives, while the verdicts of the sockets
// that did not change are the ones of the refresh before, not judged
// again.
func TestChangedRefreshJudgesWhatChanged(t *testing.T) {
	pair := sockettest.PairForTest(t, "pwjudge")
	for _, port := range []uint16{9443, 9444, 9445} { // connections whose verdicts differ
		pair.SinkForTest(t, port)
	}
	feed, err := tcpevents.OpenFeed()
	if err != nil {
		t.Fatalf("eBPF (root, BTF) is needed: %v", err)
	}
	defer feed.Close()
	a, _ := newApp(t, Options{Changes: feed, NetNS: sockets.NetNSFilter(pair.Client.Name)})

	client := sockettest.PythonForTest(t, pair.Client, `
import socket, sys
conns, toggled = [], None
print("ready", flush=True)
for line in sys.stdin:
    for i in range(8):
        conns.append(socket.create_connection(("198.51.100.7", 9443 + i % 3)))
    for c in conns[:3]:
        c.close()
    conns = conns[3:]
    if toggled: toggled.close(); toggled = None
    else: toggled = socket.socket(); toggled.bind(("0.0.0.0", 7001)); toggled.listen()
    print("done", flush=True)`)
	client.Expect(t, "ready")

	prev, err := a.Inspect(sockets.Query{})
	if err != nil {
		t.Fatal(err)
	}
	reused, told := 0, 0
	for round := 1; round <= 6; round++ {
		if got := client.Say(t, "step"); got != "done" {
			t.Fatalf("the client said %q", got)
		}
		in, err := a.Inspect(sockets.Query{})
		if err != nil {
			t.Fatal(err)
		}
		ifs, _ := verdict.LocalInterfaces()
		afresh := a.assessor(in, ifs).Assess(in.Snapshot)
		for i, j := range in.Judged {
			if j.Socket != &in.Snapshot.Sockets[i] {
				t.Fatalf("round %d: verdict %d is of another socket", round, i)
			}
			if !reflect.DeepEqual(*j.Verdict, *afresh[i].Verdict) {
				t.Fatalf("round %d: %v → %v reads %+v; judged afresh, %+v", round, j.Socket.Local, j.Socket.Remote, *j.Verdict, *afresh[i].Verdict)
			}
			if i < len(prev.Judged) && j.Verdict == prev.Judged[i].Verdict && j.Socket.Remote.Addr() == pair.ServerAddr {
				reused++
			}
		}
		if _, _, _, ok := in.Snapshot.Kept(); ok {
			told++
		}
		prev = in
	}
	if reused == 0 || told == 0 {
		t.Fatalf("%d verdicts reused, %d snapshots said what they kept: want refreshes that judged only what changed", reused, told)
	}
}
