package verdict

import (
	"net/netip"
	"testing"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/sockets"
)

// TestEqualVerdictsShared judges connections whose verdicts are the same
// and one whose verdict differs: the first share one Verdict, the other
// has its own, and each still reads as judged alone.
func TestEqualVerdictsShared(t *testing.T) {
	p := &sockets.Process{PID: 10, Name: "app", Exe: "/usr/bin/app"}
	conn := func(remote string) sockets.Socket {
		return sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Processes: []*sockets.Process{p},
			Local: netip.MustParseAddrPort("127.0.0.1:40000"), Remote: netip.MustParseAddrPort(remote)}
	}
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{
		conn("127.0.0.1:5432"), conn("127.0.0.1:5432"), conn("127.0.0.1:5432"), conn("198.51.100.7:443"),
	}}
	for i := range snap.Sockets {
		snap.Sockets[i].Local = netip.AddrPortFrom(snap.Sockets[i].Local.Addr(), uint16(40000+i))
	}
	a := &Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{}}
	judged := a.Assess(snap)
	if judged[0].Verdict != judged[1].Verdict || judged[1].Verdict != judged[2].Verdict {
		t.Error("three connections with the same verdict hold three copies")
	}
	if judged[3].Verdict == judged[0].Verdict {
		t.Fatal("an external connection shares a loopback one's verdict")
	}
	for i := range judged {
		alone := a.Assess(&sockets.Snapshot{Sockets: []sockets.Socket{snap.Sockets[i]}})[0].Verdict
		if got, want := *judged[i].Verdict, *alone; got.Peer != want.Peer || got.Risk != want.Risk ||
			got.Direction != want.Direction || len(got.Reasons) != len(want.Reasons) {
			t.Errorf("socket %d: shared verdict %+v, judged alone %+v", i, got, want)
		}
	}
}
