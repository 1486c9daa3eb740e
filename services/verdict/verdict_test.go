package verdict

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

func TestMain(m *testing.M) {
	sockettest.RunIfChild()
	os.Exit(m.Run())
}

func TestClassifyPeer(t *testing.T) {
	internal := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/25"), netip.MustParsePrefix("2001:db8:aa::/48")}
	tests := []struct {
		addr string
		want Peer
	}{
		{"127.0.0.1", PeerLoopback}, {"127.8.9.10", PeerLoopback}, {"::1", PeerLoopback},
		{"::ffff:127.0.0.1", PeerLoopback},
		{"169.254.10.1", PeerLinkLocal}, {"fe80::1", PeerLinkLocal}, {"fe80::1%eth0", PeerLinkLocal},
		{"10.1.2.3", PeerPrivate}, {"172.16.0.1", PeerPrivate}, {"172.31.255.255", PeerPrivate},
		{"192.168.1.1", PeerPrivate}, {"fd12:3456::1", PeerPrivate}, {"::ffff:192.168.1.1", PeerPrivate},
		{"172.32.0.1", PeerExternal}, {"100.64.0.1", PeerCGNAT}, {"100.127.255.254", PeerCGNAT}, {"100.128.0.1", PeerExternal},
		{"203.0.113.5", PeerInternal}, {"::ffff:203.0.113.5", PeerInternal}, {"203.0.113.200", PeerExternal},
		{"2001:db8:aa::1", PeerInternal}, {"2001:db8:bb::1", PeerExternal},
		{"198.51.100.7", PeerExternal}, {"8.8.8.8", PeerExternal}, {"2606:4700::1111", PeerExternal},
		{"0.0.0.0", PeerNone}, {"::", PeerNone},
	}
	for _, tt := range tests {
		if got := ClassifyPeer(netip.Addr{}, netip.MustParseAddr(tt.addr), internal); got != tt.want {
			t.Errorf("ClassifyPeer(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := ClassifyPeer(netip.Addr{}, netip.Addr{}, nil); got != PeerNone {
		t.Errorf("zero address: %q", got)
	}
	// A peer with the connection's own local address is this host.
	own := netip.MustParseAddr("198.51.100.7")
	if got := ClassifyPeer(netip.MustParseAddr("::ffff:198.51.100.7"), own, internal); got != PeerLoopback {
		t.Errorf("a connection to this host's own %s: %q", own, got)
	}
}

func TestClassifyExposure(t *testing.T) {
	tests := []struct {
		addr string
		want Exposure
	}{
		{"0.0.0.0", ExposureAll}, {"::", ExposureAll}, {"::ffff:0.0.0.0", ExposureAll},
		{"127.0.0.1", ExposureLoopback}, {"127.0.0.53", ExposureLoopback}, {"::1", ExposureLoopback},
		{"::ffff:127.0.0.1", ExposureLoopback},
		{"192.0.2.10", ExposureInterface}, {"fe80::1%eth0", ExposureInterface}, {"10.0.0.5", ExposureInterface},
	}
	for _, tt := range tests {
		if got := ClassifyExposure(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("ClassifyExposure(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// fixed builds a snapshot of hand-made sockets to check the rules in
// isolation; the live tests below check them on real sockets.
func TestAssessRules(t *testing.T) {
	ap := netip.MustParseAddrPort
	telnetd := &sockets.Process{PID: 10, Name: "inetd"}
	sshd := &sockets.Process{PID: 11, Name: "sshd"}
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{
		{Proto: sockets.TCP, Local: ap("0.0.0.0:23"), Remote: ap("0.0.0.0:0"), State: sockets.Listen, Processes: []*sockets.Process{telnetd}},
		{Proto: sockets.TCP, Local: ap("[::]:22"), Remote: ap("[::]:0"), State: sockets.Listen, Processes: []*sockets.Process{sshd}},
		{Proto: sockets.TCP, Local: ap("127.0.0.1:6379"), Remote: ap("0.0.0.0:0"), State: sockets.Listen},
		{Proto: sockets.TCP, Local: ap("[::ffff:192.0.2.5]:22"), Remote: ap("[::ffff:198.51.100.7]:50000"), State: sockets.Established, Processes: []*sockets.Process{sshd}},
		{Proto: sockets.TCP, Local: ap("192.0.2.5:41000"), Remote: ap("198.51.100.9:6667"), State: sockets.Established},
		{Proto: sockets.TCP, Local: ap("192.0.2.5:41001"), Remote: ap("10.0.0.9:443"), State: sockets.Established},
		{Proto: sockets.UDP, Local: ap("192.0.2.5:123"), Remote: ap("0.0.0.0:0"), State: sockets.Close},
	}}
	base := &baseline.Baseline{Entries: []baseline.Entry{{Proto: "tcp", Port: 22, Process: "sshd", Reason: "admin", Owner: "ops"}}}
	a := &Assessor{Catalog: catalog.Embedded(), Baseline: base, Interfaces: Interfaces{netip.MustParseAddr("192.0.2.5"): "eth0"}}
	judged := a.Assess(snap)
	v := make([]Verdict, len(judged))
	for i, j := range judged {
		if j.Socket != &snap.Sockets[i] {
			t.Fatalf("verdict %d is not carried with socket %d", i, i)
		}
		v[i] = *j.Verdict
	}

	telnet := v[0]
	if !telnet.Unexpected || telnet.Exposure != ExposureAll || telnet.Risk != catalog.Critical || telnet.Service != "telnet" ||
		!slices.Contains(telnet.Reasons, "telnet listening on all IPv4 interfaces (0.0.0.0)") || !slices.Contains(telnet.Reasons, "not in baseline") {
		t.Errorf("telnet on 0.0.0.0: %+v", telnet)
	}
	if ssh := v[1]; ssh.Unexpected || !ssh.Expected || ssh.Baseline == nil || ssh.Exposure != ExposureAll || ssh.Risk != catalog.Medium || len(ssh.Reasons) != 0 {
		t.Errorf("baselined sshd on [::]: %+v", ssh)
	}
	if redis := v[2]; redis.Exposure != ExposureLoopback || redis.Risk != catalog.Low || !redis.Unexpected {
		t.Errorf("redis on loopback: %+v", redis)
	}
	in := v[3]
	if in.Direction != DirectionInbound || in.Peer != PeerExternal || !in.External || !in.Expected || in.Service != "ssh" ||
		!slices.Contains(in.Reasons, "inbound from external 198.51.100.7 to ssh") {
		t.Errorf("external SSH client on a dual-stack listener: %+v", in)
	}
	irc := v[4]
	if irc.Direction != DirectionOutbound || !irc.External || irc.Risk != catalog.Critical || irc.Service != "ircu" {
		t.Errorf("outbound IRC to an external host: %+v", irc)
	}
	if lan := v[5]; lan.External || lan.Peer != PeerPrivate || lan.Direction != DirectionOutbound || len(lan.Reasons) != 0 {
		t.Errorf("outbound to a private address: %+v", lan)
	}
	if ntp := v[6]; ntp.Exposure != ExposureInterface || ntp.Interface != "eth0" || ntp.Service != "ntp" {
		t.Errorf("udp on one interface: %+v", ntp)
	}
}

// TestAssessLive judges real sockets: loopback listeners and connections,
// and a peer in a network namespace with documentation addresses that
// connects in to a real listener and accepts a connection out.
func TestAssessLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	peer, err := sockettest.NewExternalPeer(netip.MustParsePrefix("198.51.100.0/26"), netip.MustParsePrefix("2001:db8:100::/64"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := peer.Close(); err != nil {
			t.Error(err)
		}
	}()

	// Inbound: listeners on the host's veth addresses, dialled from inside.
	in4 := mustListen(t, "tcp4", netip.AddrPortFrom(peer.Host4, 0).String())
	in6 := mustListen(t, "tcp6", netip.AddrPortFrom(peer.Host6, 0).String())
	var inbound []net.Conn
	for _, ln := range []net.Listener{in4, in6} {
		err := peer.Do(func() error {
			c, err := net.Dial("tcp", ln.Addr().String())
			inbound = append(inbound, c)
			return err
		})
		if err != nil {
			t.Fatalf("dial in from the namespace: %v", err)
		}
		defer inbound[len(inbound)-1].Close()
	}
	// Outbound: a listener inside the namespace, dialled from the host.
	var far net.Listener
	if err := peer.Do(func() (err error) {
		far, err = net.Listen("tcp4", netip.AddrPortFrom(peer.Peer4, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	out, err := net.Dial("tcp4", far.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// Loopback: a listener and a client, neither external.
	lo := mustListen(t, "tcp4", "127.0.0.1:0")
	loc, err := net.Dial("tcp4", lo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	// The host connecting to its own (documentation, so "external")
	// address: the kernel sends it from that address over lo.
	self, err := net.Dial("tcp4", in4.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()

	path := filepath.Join(t.TempDir(), "baseline.toml")
	if err := baseline.Add(path, baseline.Entry{Proto: "tcp", Port: port(in4.Addr()), Bind: peer.Host4.String(), Reason: "test service", Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	base, err := baseline.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ifs, err := LocalInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := sockets.NewCollector().Collect(sockets.Query{TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	judged := (&Assessor{Catalog: catalog.Embedded(), Baseline: base, Interfaces: ifs}).Assess(snap)
	find := func(local, remote net.Addr) Verdict {
		t.Helper()
		for _, j := range judged {
			if s := j.Socket; s.Local == addrPort(local) && (remote == nil || s.Remote == addrPort(remote)) {
				return *j.Verdict
			}
		}
		t.Fatalf("socket %v → %v not in the snapshot", local, remote)
		return Verdict{}
	}

	if v := find(in4.Addr(), nil); v.Exposure != ExposureInterface || !strings.HasPrefix(v.Interface, "pwh") || !v.Expected || v.Unexpected {
		t.Errorf("baselined listener on the veth address: %+v", v)
	}
	if v := find(in6.Addr(), nil); v.Exposure != ExposureInterface || !v.Unexpected || !slices.Contains(v.Reasons, "not in baseline") {
		t.Errorf("unbaselined v6 listener on the veth address: %+v", v)
	}
	for i, c := range inbound {
		v := find(c.RemoteAddr(), c.LocalAddr())
		if v.Direction != DirectionInbound || v.Peer != PeerExternal || !v.External || v.Expected != (i == 0) {
			t.Errorf("inbound connection %d from %v: %+v", i, c.LocalAddr(), v)
		}
	}
	if v := find(out.LocalAddr(), out.RemoteAddr()); v.Direction != DirectionOutbound || v.Peer != PeerExternal || !v.External ||
		!strings.HasPrefix(v.Reasons[0], "outbound to external "+peer.Peer4.String()) {
		t.Errorf("outbound connection to %v: %+v", out.RemoteAddr(), v)
	}
	if v := find(lo.Addr(), nil); v.Exposure != ExposureLoopback || v.Risk > catalog.Low {
		t.Errorf("loopback listener: %+v", v)
	}
	if v := find(loc.LocalAddr(), loc.RemoteAddr()); v.Peer != PeerLoopback || v.Direction != DirectionOutbound || v.External {
		t.Errorf("loopback client: %+v", v)
	}
	if v := find(loc.RemoteAddr(), loc.LocalAddr()); v.Peer != PeerLoopback || v.Direction != DirectionInbound {
		t.Errorf("loopback server end: %+v", v)
	}
	if addrPort(self.LocalAddr()).Addr() != peer.Host4 {
		t.Fatalf("a connection to this host's %v came from %v, not from that address", peer.Host4, self.LocalAddr())
	}
	for _, ends := range [][2]net.Addr{{self.LocalAddr(), self.RemoteAddr()}, {self.RemoteAddr(), self.LocalAddr()}} {
		if v := find(ends[0], ends[1]); v.Peer != PeerLoopback || v.External || v.Risk > catalog.Low {
			t.Errorf("this host connected to its own address, end %v: %+v", ends[0], v)
		}
	}

	// Declaring the namespace's network internal turns external into internal.
	base.Internal = []netip.Prefix{netip.PrefixFrom(peer.Peer4, 24).Masked()}
	judged = (&Assessor{Catalog: catalog.Embedded(), Baseline: base, Interfaces: ifs}).Assess(snap)
	if v := find(out.LocalAddr(), out.RemoteAddr()); v.Peer != PeerInternal || v.External {
		t.Errorf("outbound to a declared internal network: %+v", v)
	}
}

func mustListen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func addrPort(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }
func port(a net.Addr) uint16             { return addrPort(a).Port() }

// TestLabels checks the one vocabulary rows, detail, table and check use.
func TestLabels(t *testing.T) {
	tests := []struct {
		v           Verdict
		label, shrt string
		class       Class
	}{
		{Verdict{Unexpected: true, Risk: catalog.Critical}, "UNEXPECTED critical", "UNEXPECTED crit", ClassUnexpected},
		{Verdict{External: true, Risk: catalog.Medium}, "EXTERNAL medium", "EXTERNAL med", ClassExternal},
		{Verdict{Baseline: &baseline.Entry{}, Risk: catalog.High}, "risky high", "risky high", ClassRisky},
		{Verdict{Baseline: &baseline.Entry{}, Risk: catalog.Low}, "expected", "expected", ClassExpected},
		{Verdict{Unexpected: true}, "UNEXPECTED", "UNEXPECTED", ClassUnexpected},
		{Verdict{Risk: catalog.Low}, "-", "-", ClassPlain},
	}
	for _, tt := range tests {
		if got := tt.v.Label(); got != tt.label {
			t.Errorf("Label(%+v) = %q, want %q", tt.v, got, tt.label)
		}
		if got := tt.v.ShortLabel(); got != tt.shrt {
			t.Errorf("ShortLabel(%+v) = %q, want %q", tt.v, got, tt.shrt)
		}
		if got := tt.v.Class(); got != tt.class {
			t.Errorf("Class(%+v) = %v, want %v", tt.v, got, tt.class)
		}
	}
	if (&Verdict{Unexpected: true, Risk: catalog.Low}).Severity() <= (&Verdict{External: true, Risk: catalog.Critical}).Severity() {
		t.Error("an unexpected listener must sort above an external connection")
	}
}

// TestPolicy checks what fails `portwarden check` on hand-made sockets: an
// external client of an expected listener does not; one of an unexpected
// listener does; outbound, only a high-risk service does; an unexpected
// listener nothing outside can reach, only with FailUnreachable.
func TestPolicy(t *testing.T) {
	ap := netip.MustParseAddrPort
	sshd := &sockets.Process{PID: 11, Name: "sshd"}
	conn := func(local, remote string) sockets.Socket {
		return sockets.Socket{Proto: sockets.TCP, Local: ap(local), Remote: ap(remote), State: sockets.Established}
	}
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{
		{Proto: sockets.TCP, Local: ap("0.0.0.0:22"), Remote: ap("0.0.0.0:0"), State: sockets.Listen, Processes: []*sockets.Process{sshd}},
		{Proto: sockets.TCP, Local: ap("0.0.0.0:8081"), Remote: ap("0.0.0.0:0"), State: sockets.Listen},
		{Proto: sockets.TCP, Local: ap("127.0.0.1:9000"), Remote: ap("0.0.0.0:0"), State: sockets.Listen},
		conn("192.0.2.5:22", "198.51.100.7:50000"),   // admin logged in from outside
		conn("192.0.2.5:8081", "198.51.100.8:50001"), // a client of the unexpected listener
		conn("192.0.2.5:41000", "198.51.100.9:80"),   // a package download
		conn("192.0.2.5:41001", "198.51.100.9:22"),   // git over SSH
		conn("192.0.2.5:41002", "198.51.100.9:6667"), // IRC
		conn("192.0.2.5:41003", "198.51.100.9:6697"), // IRC over TLS
		conn("192.0.2.5:41004", "198.51.100.9:23"),   // telnet out
	}}
	base := &baseline.Baseline{Entries: []baseline.Entry{{Proto: "tcp", Port: 22, Process: "sshd", Reason: "admin", Owner: "ops"}}}
	judged := (&Assessor{Catalog: catalog.Embedded(), Baseline: base}).Assess(snap)
	p := DefaultPolicy()
	wantFails := []bool{false, true, false, false, true, false, false, true, true, true}
	for i, want := range wantFails {
		v := judged[i].Verdict
		if got := p.FailsListener(v) || p.FailsExternal(v); got != want {
			t.Errorf("%s %s → %s: fails %v, want %v (%+v)", judged[i].Socket.Proto, judged[i].Socket.Local, judged[i].Socket.Remote, got, want, v)
		}
	}
	sum := Summarize(judged, p)
	if sum.OK() || sum.FailingListeners != 1 || sum.RiskyExternal != 4 || sum.External[DirectionInbound] != 2 || sum.External[DirectionOutbound] != 5 {
		t.Errorf("summary: %+v", sum)
	}
	if !(Policy{FailUnreachable: true}).FailsListener(judged[2].Verdict) {
		t.Error("FailUnreachable: the loopback listener passes")
	}
	// Tuned: only unexpected listeners at medium or above; outbound only at critical.
	p = Policy{FailOn: catalog.Medium, FailOnExternal: catalog.Critical}
	if p.FailsListener(judged[2].Verdict) || !p.FailsListener(judged[1].Verdict) {
		t.Errorf("--fail-on medium: loopback %+v, wildcard %+v", judged[2].Verdict, judged[1].Verdict)
	}
	if p.FailsExternal(judged[7].Verdict) || !p.FailsExternal(judged[9].Verdict) {
		t.Error("--fail-on-external critical: IRC fails or telnet passes")
	}
}

// TestContainedListeners: a listener inside a container's own network is
// judged by what publishes it on the host, not by its bind inside.
func TestContainedListeners(t *testing.T) {
	ap := netip.MustParseAddrPort
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{
		{Proto: sockets.TCP, Local: ap("[::]:5432"), Remote: ap("[::]:0"), State: sockets.Listen, NetNS: 7},
		{Proto: sockets.TCP, Local: ap("0.0.0.0:80"), Remote: ap("0.0.0.0:0"), State: sockets.Listen, NetNS: 8},
		{Proto: sockets.TCP, Local: ap("0.0.0.0:22"), Remote: ap("0.0.0.0:0"), State: sockets.Listen, NetNS: 1},
	}}
	contained := map[uint64]*Containment{
		7: {Container: "db1"},
		8: {Container: "web1", Published: []Published{{Host: ap("0.0.0.0:18081"), Via: "dnat"}}},
	}
	a := &Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{},
		Contained: func(s *sockets.Socket) *Containment { return contained[s.NetNS] }}
	j := a.Assess(snap)
	if v := j[0].Verdict; v.Exposure != ExposureContainer || v.Risk > catalog.Low ||
		!slices.Contains(v.Reasons, "bound to every interface of container db1's network; not published on the host") {
		t.Errorf("unpublished postgres in a container: %+v", v)
	}
	if v := j[1].Verdict; v.Exposure != ExposureAll || v.Risk < catalog.Medium ||
		!slices.Contains(v.Reasons, "published on 0.0.0.0:18081 by dnat (container web1)") ||
		!strings.Contains(ExplainExposure(j[1].Socket, v), "bypasses the host's input firewall") {
		t.Errorf("web server published on every interface: %+v", v)
	}
	if v := j[2].Verdict; v.Exposure != ExposureAll || v.Contained != nil {
		t.Errorf("a host listener: %+v", v)
	}
}

// TestOutboundDestinations: once the baseline documents where this host
// connects out, an external connection elsewhere fails check, and a
// documented one passes even to a high-risk service.
func TestOutboundDestinations(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/b.toml"
	text := `[[outbound]]
to = "198.51.100.0/24"
port = 443
reason = "package mirror"
owner = "ops"
added = 2026-01-01

[[outbound]]
to = "203.0.113.9"
proto = "tcp"
reason = "the team's IRC bouncer"
owner = "ops"
added = 2026-01-01
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := baseline.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort
	conn := func(remote string) sockets.Socket {
		return sockets.Socket{Proto: sockets.TCP, Local: ap("192.0.2.5:41000"), Remote: ap(remote), State: sockets.Established}
	}
	snap := &sockets.Snapshot{Sockets: []sockets.Socket{
		conn("198.51.100.9:443"), // documented
		conn("198.51.100.9:80"),  // that network, another port
		conn("203.0.113.9:6667"), // documented, even IRC
		conn("203.0.113.10:443"), // not documented
	}}
	j := (&Assessor{Catalog: catalog.Embedded(), Baseline: base}).Assess(snap)
	p := DefaultPolicy()
	for i, want := range []bool{false, true, false, true} {
		if got := p.FailsExternal(j[i].Verdict); got != want {
			t.Errorf("%s: fails %v, want %v (%+v)", j[i].Socket.Remote, got, want, j[i].Verdict)
		}
	}
	if o := j[0].Verdict.Outbound; o == nil || o.Reason != "package mirror" {
		t.Errorf("documented destination: %+v", j[0].Verdict)
	}
	if bad := os.WriteFile(path, []byte("[[outbound]]\nto = \"not a net\"\nreason = \"x\"\n"), 0o644); bad != nil {
		t.Fatal(bad)
	}
	if _, err := baseline.Load(path); err == nil || !strings.Contains(err.Error(), "outbound 1") {
		t.Errorf("a bad outbound entry: %v", err)
	}
}
