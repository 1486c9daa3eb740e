package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// slowJSON is the reference: encoding/json's output of the typed struct,
// as streamJSON writes it.
func slowJSON(s Socket) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return escapeC1(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// checkSame fails unless the fast encoder e writes exactly what
// encoding/json writes of the Socket struct.
func checkSame(t *testing.T, e *socketEncoder, j *verdict.Judged, ns *sockets.Namespace) {
	t.Helper()
	fast := e.append(nil, j, ns)
	slow := slowJSON(SocketOf(j, ns, nil))
	if !bytes.Equal(fast, slow) {
		t.Fatalf("fast and encoding/json differ:\nfast %s\nslow %s", fast, slow)
	}
	if !json.Valid(fast) {
		t.Fatalf("invalid JSON: %s", fast)
	}
}

func TestFastJSONMatchesTheSchema(t *testing.T) {
	snap := fixedSnapshot()
	judged := assess(snap)
	shared := newSocketEncoder(nil, slowJSON)
	for range 2 { // the second time from what the first remembered
		for i := range judged {
			checkSame(t, &socketEncoder{slow: slowJSON}, &judged[i], snap.Namespace(judged[i].Socket.NetNS))
			checkSame(t, shared, &judged[i], snap.Namespace(judged[i].Socket.NetNS))
			checkSame(t, shared, &judged[i], nil)
		}
	}
	for i := range judged { // with the kernel's byte counters
		counted := *judged[i].Socket
		counted.Counted, counted.Bytes = true, sockets.Traffic{Rx: 1 << 40, Tx: 7}
		j := judged[i]
		j.Socket = &counted
		checkSame(t, &socketEncoder{slow: slowJSON}, &j, nil)
	}
}

// TestFastJSONSharesOnlyWhatIsShared encodes sockets that share a
// verdict or a slice of holders, and some that only seem to (the same
// first holder, fewer of them; the same holders, other signs), with one
// encoder: each must read as if encoded alone.
func TestFastJSONSharesOnlyWhatIsShared(t *testing.T) {
	web := &sockets.Process{PID: 80, Name: "nginx", Exe: "/usr/sbin/nginx", User: "root"}
	worker := &sockets.Process{PID: 81, Name: "nginx", Exe: "/usr/sbin/nginx", User: "www-data"}
	both := []*sockets.Process{web, worker}
	ap := netip.MustParseAddrPort
	calm := &verdict.Verdict{Service: "http", Risk: catalog.Low, Reasons: []string{"in baseline"}}
	signed := &verdict.Verdict{Service: "http", Risk: catalog.High, Reasons: []string{"sign"},
		Signs: [][]signs.Sign{nil, {{Code: signs.ExeDeleted, Detail: "gone", Risk: catalog.High}}}}
	socket := func(port uint16, procs []*sockets.Process) *sockets.Socket {
		return &sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Local: ap("127.0.0.1:80"),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Processes: procs}
	}
	judged := []verdict.Judged{
		{Socket: socket(1, both), Verdict: calm},
		{Socket: socket(2, both), Verdict: calm},     // all shared
		{Socket: socket(3, both[:1]), Verdict: calm}, // the same first holder alone
		{Socket: socket(4, both), Verdict: signed},   // the same holders, other signs
		{Socket: socket(5, nil), Verdict: signed},    // no holder
		{Socket: socket(6, []*sockets.Process{web}), Verdict: calm},
	}
	e := newSocketEncoder(nil, slowJSON)
	for i := range judged {
		checkSame(t, e, &judged[i], nil)
	}
	if len(e.verdicts) != 2 || len(e.holders) != 4 {
		t.Fatalf("remembered %d verdicts and %d holder lists, want 2 and 4", len(e.verdicts), len(e.holders))
	}
}

// FuzzFastJSON feeds hostile text through both encoders.
func FuzzFastJSON(f *testing.F) {
	f.Add("sshd", "/usr/sbin/sshd", "pwt", "not in baseline", uint16(22), true)
	f.Add("x\x1b[2J\"\\y", "/tmp/\x07\xff\xfe", "n\u2028s\u0085", "r\r\n\t\b\f<&>", uint16(0), false)
	f.Fuzz(func(t *testing.T, name, exe, nsName, reason string, port uint16, listen bool) {
		p := &sockets.Process{PID: 7, PPID: 1, Name: name, Exe: exe, User: name + exe}
		s := &sockets.Socket{Proto: sockets.UDP, Local: netip.AddrPortFrom(netip.MustParseAddr("::1"), port),
			Remote: netip.MustParseAddrPort("[::]:0"), Processes: []*sockets.Process{p}, NetNS: 9}
		if !listen {
			s.Proto, s.State, s.Remote = sockets.TCP, sockets.Established, netip.MustParseAddrPort("198.51.100.7:443")
		}
		j := &verdict.Judged{Socket: s, Verdict: &verdict.Verdict{Service: reason, Reasons: []string{reason, name}, Risk: catalog.High,
			Exposure: verdict.ExposureLoopback, Peer: verdict.PeerExternal,
			Firewall: &firewall.Decision{Reach: firewall.ReachUnknown, Verdict: firewall.VerdictUnknown, Chain: nsName, Handle: uint64(port),
				Rule: reason, Why: name, Sources: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}}}}
		checkSame(t, &socketEncoder{slow: slowJSON}, j, &sockets.Namespace{Inode: 9, Name: nsName})
		// The same socket, its process showing signs of a rogue process.
		j.Verdict.Signs = [][]signs.Sign{{{Code: signs.Code(reason), Detail: exe, Risk: catalog.High},
			{Code: signs.ExeDeleted, Detail: name, Risk: catalog.Medium, Ack: nsName}}}
		checkSame(t, newSocketEncoder(nil, slowJSON), j, nil)
	})
}
