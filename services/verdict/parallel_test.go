package verdict

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/sockets"
)

// TestAssessOnTwoCoresAsAlone judges enough sockets to take the two-core
// path — listeners at both ends, connections to them from either half,
// outbound and external ones, processes with and without signs — and
// checks each verdict reads as the socket judged with only the listeners
// beside it.
func TestAssessOnTwoCoresAsAlone(t *testing.T) {
	procs := make([]*sockets.Process, 50)
	for i := range procs {
		procs[i] = &sockets.Process{PID: 100 + i, Name: "app", Exe: "/usr/bin/app"}
	}
	signed := map[int][]signs.Sign{103: {{Code: signs.ExeDeleted, Detail: "gone", Risk: catalog.High}}}
	ap := netip.MustParseAddrPort
	listen := func(addr string) sockets.Socket {
		return sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: ap(addr), Processes: procs[:1]}
	}
	var socks []sockets.Socket
	socks = append(socks, listen("0.0.0.0:5432"))
	remotes := []string{"127.0.0.1", "198.51.100.7", "10.0.0.9"}
	for i := range 3 * parallelFrom {
		s := sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Processes: procs[i%len(procs) : i%len(procs)+1],
			Remote: netip.AddrPortFrom(netip.MustParseAddr(remotes[i%len(remotes)]), uint16(1024+i))}
		switch i % 3 {
		case 0: // inbound to the first listener
			s.Local = ap("127.0.0.1:5432")
		case 1: // inbound to the last, dual-stack: IPv4 arrives mapped
			s.Local = ap("[::ffff:127.0.0.1]:8080")
			s.Remote = netip.AddrPortFrom(netip.AddrFrom16(s.Remote.Addr().As16()), s.Remote.Port())
		default: // outbound
			s.Local = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(30000+i%30000))
			s.Remote = netip.AddrPortFrom(s.Remote.Addr(), 443)
		}
		socks = append(socks, s)
	}
	socks = append(socks, listen("[::]:8080"))
	a := &Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{},
		Signs: func(p *sockets.Process) []signs.Sign { return signed[p.PID] }}
	judged := a.Assess(&sockets.Snapshot{Sockets: socks})
	if len(judged) != len(socks) {
		t.Fatalf("%d judged of %d sockets", len(judged), len(socks))
	}
	listeners := []sockets.Socket{socks[0], socks[len(socks)-1]}
	inbound := 0
	for i := range socks {
		if judged[i].Socket != &socks[i] {
			t.Fatalf("judged %d points at another socket", i)
		}
		alone := a.Assess(&sockets.Snapshot{Sockets: append(listeners[:2:2], socks[i])})[2]
		if !reflect.DeepEqual(*judged[i].Verdict, *alone.Verdict) {
			t.Fatalf("socket %d (%v → %v): judged %+v, alone %+v", i, socks[i].Local, socks[i].Remote,
				*judged[i].Verdict, *alone.Verdict)
		}
		if judged[i].Verdict.Direction == DirectionInbound {
			inbound++
		}
	}
	if want := 2 * parallelFrom; inbound != want {
		t.Fatalf("%d inbound connections found, want %d", inbound, want)
	}
}
