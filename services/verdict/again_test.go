package verdict

import (
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/sockets"
)

// TestAssessAgainJudgesWhatChanged judges a table, changes it as a refresh
// does — a connection that changed owner, one replaced by another at its
// index, a listener that came on the port of connections judged outbound,
// one that went — and checks that AssessAgain gives every socket the
// verdict Assess gives it, keeping the verdicts of the sockets untouched
// and judging the others.
func TestAssessAgainJudgesWhatChanged(t *testing.T) {
	app := &sockets.Process{PID: 100, Name: "app", Exe: "/usr/bin/app"}
	rogue := &sockets.Process{PID: 101, Name: "app", Exe: "/tmp/app"}
	signed := map[int][]signs.Sign{101: {{Code: signs.ExeDeleted, Detail: "gone", Risk: catalog.High}}}
	ap := netip.MustParseAddrPort
	conn := func(local, remote string) sockets.Socket {
		return sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Local: ap(local), Remote: ap(remote),
			Processes: []*sockets.Process{app}}
	}
	listen := func(local string) sockets.Socket {
		return sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: ap(local), Processes: []*sockets.Process{app}}
	}
	var socks []sockets.Socket
	for i := range 40 {
		socks = append(socks, conn("10.0.0.1:"+strconv.Itoa(40000+i), "198.51.100.7:443"))
	}
	socks = append(socks, conn("10.0.0.1:7000", "198.51.100.8:50000"), conn("10.0.0.1:7000", "198.51.100.9:50001"))
	socks = append(socks, listen("0.0.0.0:22"), listen("0.0.0.0:8080"))
	a := &Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{},
		Signs: func(p *sockets.Process) []signs.Sign { return signed[p.PID] }}
	before := a.Assess(&sockets.Snapshot{Sockets: socks})

	now := slices.Clone(socks)
	now[3].Processes = []*sockets.Process{rogue}        // changed owner
	now[5] = conn("10.0.0.1:39999", "198.51.100.10:25") // another socket at its index
	now[len(now)-1] = listen("0.0.0.0:7000")            // 8080 went, 7000 came
	judged := a.AssessAgain(Earlier{Judged: before}, &sockets.Snapshot{Sockets: now})
	want := a.Assess(&sockets.Snapshot{Sockets: now})
	for i := range now {
		if judged[i].Socket != &now[i] {
			t.Fatalf("judged %d points at another socket", i)
		}
		if !reflect.DeepEqual(*judged[i].Verdict, *want[i].Verdict) {
			t.Errorf("socket %d (%v → %v): judged again %+v, want %+v", i, now[i].Local, now[i].Remote, *judged[i].Verdict, *want[i].Verdict)
		}
	}
	kept := func(i int) bool { return judged[i].Verdict == before[i].Verdict }
	if !kept(0) || !kept(39) {
		t.Error("the verdicts of connections that did not change were judged again")
	}
	ssh := len(now) - 2 // the listener on port 22, unchanged
	if !kept(ssh) {
		t.Error("the verdict of a listener that did not change was judged again")
	}
	if kept(3) || kept(5) || kept(40) || kept(41) {
		t.Error("a verdict was kept for a connection whose owner, socket or listener changed")
	}
	if judged[40].Verdict.Direction != DirectionInbound || before[40].Verdict.Direction != DirectionOutbound {
		t.Errorf("the connection to port 7000 reads %q, then %q; want outbound before its listener came, inbound after",
			before[40].Verdict.Direction, judged[40].Verdict.Direction)
	}
	if len(judged[3].Verdict.Signs) == 0 {
		t.Error("the connection the rogue process took over shows no sign")
	}

	// A sign comes to the first process: its connections are judged
	// again, the rogue one's verdict stands.
	signed[100] = []signs.Sign{{Code: signs.ExeDeleted, Detail: "gone too", Risk: catalog.High}}
	again := a.AssessAgain(Earlier{Judged: judged, Resigned: map[int]bool{100: true}}, &sockets.Snapshot{Sockets: now})
	want = a.Assess(&sockets.Snapshot{Sockets: now})
	for i := range now {
		if !reflect.DeepEqual(*again[i].Verdict, *want[i].Verdict) {
			t.Fatalf("socket %d after the sign: judged again %+v, want %+v", i, *again[i].Verdict, *want[i].Verdict)
		}
	}
	if again[0].Verdict == judged[0].Verdict || again[ssh].Verdict == judged[ssh].Verdict || again[3].Verdict != judged[3].Verdict {
		t.Error("want the sockets of the process whose signs changed judged again, and only those")
	}
}
