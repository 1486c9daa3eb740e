package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// fixedSnapshot is a hand-made snapshot: report tests exercise formatting,
// not collection (the collector has its own tests on real sockets).
func fixedSnapshot() *sockets.Snapshot {
	evil := &sockets.Process{PID: 666, Name: "x\x1b[2Jy\"\\", Exe: "/tmp/\x07bell", User: "mallory"}
	web := &sockets.Process{PID: 80, Name: "nginx", Exe: "/usr/sbin/nginx", User: "root"}
	worker := &sockets.Process{PID: 81, Name: "nginx", Exe: "/usr/sbin/nginx", User: "www-data"}
	ap := netip.MustParseAddrPort
	return &sockets.Snapshot{
		Time:     time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC),
		Complete: false,
		Source:   "netlink",
		Warnings: []string{"could not read pid 1"},
		Namespaces: []sockets.Namespace{{Inode: 4026531840, Host: true, Processes: 90, Entered: true},
			{Inode: 4026532281, Name: "pwt", Processes: 1, Entered: true}},
		Sockets: []sockets.Socket{
			{Proto: sockets.UDP, Local: ap("127.0.0.1:53"), Remote: ap("0.0.0.0:0"), State: sockets.Close, Inode: 3, NetNS: 4026531840},
			{Proto: sockets.TCP, Local: ap("[::1]:8080"), Remote: ap("[::]:0"), State: sockets.Listen, Inode: 2, Processes: []*sockets.Process{evil}, NetNS: 4026532281},
			{Proto: sockets.TCP, Local: ap("0.0.0.0:80"), Remote: ap("0.0.0.0:0"), State: sockets.Listen, Inode: 1, Processes: []*sockets.Process{web, worker}, NetNS: 4026531840},
			{Proto: sockets.TCP, Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:80"), State: sockets.TimeWait, NetNS: 4026531840},
		},
	}
}

func TestWriteJSONEscapesHostileText(t *testing.T) {
	snap := fixedSnapshot()
	judged := assess(snap)
	Sort(judged)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, "host\x00name", snap, judged, Portless{}, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(buf.Bytes(), "\x1b\x07\x00") {
		t.Fatalf("raw control characters in JSON: %q", buf.String())
	}
	var got struct {
		Host     string `json:"host"`
		Complete bool   `json:"complete"`
		Sockets  []struct {
			Proto     string `json:"proto"`
			State     string `json:"state"`
			LocalIP   string `json:"local_ip"`
			LocalPort int    `json:"local_port"`
			Processes []struct {
				PID  int    `json:"pid"`
				Name string `json:"name"`
				Exe  string `json:"exe"`
			} `json:"processes"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if got.Host != "host\x00name" || got.Complete || len(got.Sockets) != 4 {
		t.Fatalf("header wrong: %+v", got)
	}
	order := []string{"0.0.0.0:80", "127.0.0.1:40000", "::1:8080", "127.0.0.1:53"}
	for i, s := range got.Sockets {
		if key := s.LocalIP + ":" + itoa(s.LocalPort); key != order[i] {
			t.Errorf("socket %d is %s, want %s (tcp before udp, v4 before v6, by address)", i, key, order[i])
		}
	}
	if p := got.Sockets[2].Processes; len(p) != 1 || p[0].Name != "x\x1b[2Jy\"\\" || p[0].Exe != "/tmp/\abell" {
		t.Errorf("hostile name did not round-trip: %+v", p)
	}
	if got.Sockets[3].State != "UNCONN" || got.Sockets[1].State != "TIME_WAIT" {
		t.Errorf("states: %s %s", got.Sockets[3].State, got.Sockets[1].State)
	}
}

// assess judges snap with a firewall that admits only 198.51.100.0/24 to port 80.
func assess(snap *sockets.Snapshot) []verdict.Judged {
	reach := func(s *sockets.Socket) *firewall.Decision {
		if s.Local.Port() != 80 {
			return nil
		}
		return &firewall.Decision{Reach: firewall.ReachPublic, Verdict: firewall.VerdictAccept, Chain: "inet filter input",
			Handle: 12, Rule: "ip saddr 198.51.100.0/24 tcp dport 80 accept", Sources: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}
	}
	return (&verdict.Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{}, Reach: reach}).Assess(snap)
}

// fixedRaw is a packet socket whose filter waits for a magic packet, held
// by a program posing as udevd, and a DHCP client's packet socket.
func fixedRaw() []verdict.JudgedRaw {
	door := &sockets.Process{PID: 4242, PPID: 1, Name: "udevd", Exe: "/dev/shm/.x/udevd", User: "root"}
	dhcp := &sockets.Process{PID: 611, PPID: 1, Name: "dhclient", Exe: "/usr/sbin/dhclient", User: "root"}
	trigger := []sockets.FilterInstruction{ // udp[8:2] = 0x7255, as tcpdump compiles it
		{Op: 0x28, K: 12}, {Op: 0x15, Jf: 8, K: 0x800}, {Op: 0x30, K: 23}, {Op: 0x15, Jf: 6, K: 17},
		{Op: 0x28, K: 20}, {Op: 0x45, Jt: 4, K: 0x1fff}, {Op: 0xb1, K: 14}, {Op: 0x48, K: 22},
		{Op: 0x15, Jf: 1, K: 0x7255}, {Op: 0x06, K: 0x40000}, {Op: 0x06}}
	raws := []sockets.RawSocket{
		{Kind: sockets.PacketSocket, Protocol: 0x0800, Ifindex: 2, Interface: "eth0", Inode: 9001,
			FilterState: sockets.FilterAttached, Filter: trigger, Processes: []*sockets.Process{door}},
		{Kind: sockets.PacketSocket, Protocol: 0x0003, Ifindex: 2, Interface: "eth0", Inode: 9002,
			FilterState: sockets.FilterNone, Processes: []*sockets.Process{dhcp}},
	}
	held := map[int][]*sockets.RawSocket{4242: {&raws[0]}, 611: {&raws[1]}}
	a := &verdict.Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{},
		Signs: func(p *sockets.Process) []signs.Sign { return signs.OfRaw(p, held[p.PID]) }}
	return a.AssessRaw(raws)
}

// fixedPrograms are an XDP program no known tool holds, and Cilium's
// tcx program.
func fixedPrograms() []netprogs.Judged {
	progs := []netprogs.Program{
		{Hook: "xdp (generic)", Ifindex: 2, Interface: "eth0", ID: 41, Name: "xdp_filter", Tag: "a04f5eef06a7f555", LinkID: 7,
			Holders: []netprogs.Holder{{PID: 4343, Name: "agent", Exe: "/var/tmp/.cache/agent"}}},
		{Hook: "tcx ingress", Ifindex: 2, Interface: "eth0", ID: 42, Name: "cil_from_netdev", Tag: "b15f6ffe17b8e666", LinkID: 8,
			Holders: []netprogs.Holder{{PID: 900, Name: "cilium-agent", Exe: "/usr/bin/cilium-agent"}}},
	}
	var out []netprogs.Judged
	for i := range progs {
		out = append(out, netprogs.Judged{Program: progs[i], Verdict: netprogs.Judge(&progs[i])})
	}
	return out
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
	if bytes.ContainsAny(got, "\x1b\x07") {
		t.Errorf("%s: control characters reached the output", name)
	}
}

func TestGoldenOutputs(t *testing.T) {
	snap := fixedSnapshot()
	judged := assess(snap)
	Sort(judged)
	pl := Portless{Raw: fixedRaw(), Programs: fixedPrograms()}
	var table, check, md, snapJSON, checkJSON bytes.Buffer
	if err := WriteTable(&table, snap, judged, pl, nil, 0); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.txt", table.Bytes())
	if err := WriteCheck(&check, judged, pl, verdict.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	golden(t, "check.txt", check.Bytes())
	golden(t, "metrics.prom", Prometheus(snap, judged, pl, verdict.DefaultPolicy()))
	if err := WriteJSON(&snapJSON, "web1", snap, judged, pl, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "snapshot.json", snapJSON.Bytes())
	if err := WriteCheckJSON(&checkJSON, "web1", snap, nil, &baseline.Baseline{Path: "/etc/portwarden/baseline.toml"}, judged, pl, verdict.DefaultPolicy(), nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "check.json", checkJSON.Bytes())
	base := &baseline.Baseline{Path: "/etc/portwarden/baseline.toml", Exists: true, Entries: []baseline.Entry{
		{Proto: "tcp", Port: 80, Reason: "public | web", Owner: "web team", Added: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{Proto: "tcp", Port: 22, Reason: "ssh", Owner: "ops", Added: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	}}
	judged = (&verdict.Assessor{Catalog: catalog.Embedded(), Baseline: base}).Assess(snap)
	Sort(judged)
	unit := func(p *sockets.Process) string { return p.Name + ".service" }
	if err := WriteMarkdown(&md, Audit{Host: "web1", Snapshot: snap, Judged: judged, Baseline: base, Unit: unit}); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", md.Bytes())
}

// TestSortKeepsVerdictsWithSockets sorts judged sockets and checks that
// each verdict still describes its own socket.
func TestSortKeepsVerdictsWithSockets(t *testing.T) {
	judged := assess(fixedSnapshot())
	Sort(judged)
	for _, j := range judged {
		if want := j.Socket.Listening(); (j.Verdict.Exposure != "") != want {
			t.Errorf("%s %s carries a verdict for another socket: %+v", j.Socket.Proto, j.Socket.Local, j.Verdict)
		}
	}
}

// TestTableAlignsWideNames pads columns by display width, so a process
// name in CJK characters (two cells each) keeps the next column aligned.
func TestTableAlignsWideNames(t *testing.T) {
	snap := fixedSnapshot()
	snap.Sockets[0].Processes = []*sockets.Process{{PID: 7, Name: "名前サーバ", User: "root"}}
	judged := assess(snap)
	Sort(judged)
	var buf bytes.Buffer
	if err := WriteTable(&buf, snap, judged, Portless{}, nil, 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	col := ansi.StringWidth(lines[0][:strings.Index(lines[0], "SERVICE")])
	for _, l := range lines[1:] {
		if !strings.Contains(l, "名前サーバ") {
			continue
		}
		f := strings.Index(l, "domain")
		if got := ansi.StringWidth(l[:f]); got != col {
			t.Errorf("SERVICE starts at cell %d, header at %d:\n%s", got, col, buf.String())
		}
		return
	}
	t.Fatalf("wide name not in table:\n%s", buf.String())
}

// TestTableFitsAWidth: given a width, the text columns narrow until the
// table fits; addresses, ports and verdicts stay whole.
func TestTableFitsAWidth(t *testing.T) {
	snap := fixedSnapshot()
	judged := assess(snap)
	Sort(judged)
	var buf bytes.Buffer
	if err := WriteTable(&buf, snap, judged, Portless{}, nil, 112); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if w := ansi.StringWidth(l); w > 112 {
			t.Errorf("line of %d cells at width 112: %q", w, l)
		}
	}
	for _, want := range []string{"127.0.0.1:40000", "[::1]:8080", "UNEXPECTED medium"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("%q was cut:\n%s", want, buf.String())
		}
	}
}
