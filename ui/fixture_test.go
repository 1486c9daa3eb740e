package ui

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/traffic"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/portwarden/portwarden/app"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// testNow is the fixed clock of the model tests and golden views.
var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fixedBackend serves fixed snapshots — golden views need the same rows
// every run — and records every action asked of it. Its actions are real:
// they go through a real app.App, so marks go to a real baseline file,
// kills signal real processes and every action reaches a real audit log.
// The dashboard's live path is tested on the real binary in tmux.
type fixedBackend struct {
	frames       []*app.Inspection
	next         int
	baselinePath string
	session      action.Session
	dir          string // where the audit log (and a default baseline) go

	mu    sync.Mutex
	calls []string // the actions asked for, in order
}

// app returns the real application layer, with the test's session.
func (b *fixedBackend) app() *app.App {
	if b.dir == "" {
		panic("fixedBackend: set dir (t.TempDir()) before asking for an action")
	}
	path := b.baselinePath
	if path == "" {
		path = filepath.Join(b.dir, "baseline.toml")
	}
	session := b.session
	a, err := app.New(app.Options{BaselinePath: path, AuditPath: filepath.Join(b.dir, "audit.log"), Session: &session})
	if err != nil {
		panic(err)
	}
	return a
}

func (b *fixedBackend) called(what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, what)
}

func (b *fixedBackend) Mark(e ...baseline.Entry) error { b.called("mark"); return b.app().Mark(e...) }
func (b *fixedBackend) Unmark(e baseline.Entry) error  { b.called("unmark"); return b.app().Unmark(e) }

func (b *fixedBackend) PlanKill(snap *sockets.Snapshot, t action.Target, sig syscall.Signal) *app.KillPlan {
	b.called("plan kill")
	return b.app().PlanKill(snap, t, sig)
}

func (b *fixedBackend) Kill(p *app.KillPlan, forced bool) (bool, error) {
	b.called("kill")
	return b.app().Kill(p, forced)
}

func (b *fixedBackend) PlanDisable(containers *container.Index, socks []*sockets.Socket, how disable.How) (*app.DisablePlan, error) {
	b.called("plan disable")
	return b.app().PlanDisable(containers, socks, how)
}

func (b *fixedBackend) Disable(p *app.DisablePlan, forced bool) error {
	b.called("disable")
	return b.app().Disable(p, forced)
}

func (b *fixedBackend) PlanClose(snap *sockets.Snapshot, socks []*sockets.Socket) *app.ClosePlan {
	b.called("plan close")
	return b.app().PlanClose(snap, socks)
}

func (b *fixedBackend) Close(snap *sockets.Snapshot, p *app.ClosePlan, forced bool) (int, error) {
	b.called("close")
	return b.app().Close(snap, p, forced)
}

func (b *fixedBackend) PlanBlock(snap *sockets.Snapshot, blk block.Block) *app.BlockPlan {
	b.called("plan block")
	return b.app().PlanBlock(snap, blk)
}

// Block records the call only: a real block would act in the test
// process's own network namespace, the host's. The blocks themselves are
// tested on the real binary inside namespaces of the tests' own.
func (b *fixedBackend) Block(p *app.BlockPlan, forced bool) error {
	b.called(fmt.Sprintf("block %s for %s", p.Block, p.Block.For))
	return nil
}

// FirstSeen knows no record: the fixed frames have none.
func (b *fixedBackend) FirstSeen(*sockets.Socket) (time.Time, bool) { return time.Time{}, false }

// Peers returns the fixture's peers (fixturePeers), as a real App would
// gather them from the frame and the record.
func (b *fixedBackend) Peers(in *app.Inspection) *app.PeersView { return fixturePeers(in) }

// History returns the record the test gave the frame (withRecent), read
// for window w.
func (b *fixedBackend) History(in *app.Inspection, w app.HistoryWindow) *app.Recent {
	if in.Recent == nil {
		return nil
	}
	r := *in.Recent
	r.Since, r.Until = w.Bounds(testNow)
	return &r
}

func (b *fixedBackend) Inspect(q sockets.Query) (*app.Inspection, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if q.Fresh {
		b.calls = append(b.calls, "inspect fresh")
	}
	f := b.frames[min(b.next, len(b.frames)-1)]
	b.next++
	return f, nil
}

func (b *fixedBackend) Origin(p *sockets.Process) origin.Info {
	return origin.Info{Parents: []origin.Ancestor{{PID: 1, Name: "init"}}, Unit: p.Name + ".service"}
}

func (b *fixedBackend) ExplainPort(port uint16) string { return catalog.Embedded().ExplainClass(port) }

func (b *fixedBackend) SocketUnits(*sockets.Socket) []string { return []string{"fixture.socket"} }

// Processes of the fixture, shared between frames as the collector's cache
// shares them.
var (
	pInetd = &sockets.Process{PID: 640, PPID: 1, Name: "inetd", Exe: "/usr/sbin/inetd", Cmdline: []string{"/usr/sbin/inetd", "-i"},
		User: "root", StartTicks: 100, Start: testNow.Add(-3 * time.Hour)}
	pSSHD  = &sockets.Process{PID: 812, PPID: 1, Name: "sshd", Exe: "/usr/sbin/sshd", Cmdline: []string{"sshd: /usr/sbin/sshd -D"}, User: "root", StartTicks: 200, Start: testNow.Add(-48 * time.Hour)}
	pRedis = &sockets.Process{PID: 901, PPID: 1, Name: "redis-server", Exe: "/usr/bin/redis-server", Cmdline: []string{"/usr/bin/redis-server 127.0.0.1:6379"}, User: "redis", StartTicks: 300, Start: testNow.Add(-5 * time.Minute)}
	pEvil  = &sockets.Process{PID: 6666, PPID: 1, Name: "x\x1b[2Jevil", Exe: "/tmp/.x", Cmdline: []string{"/tmp/.x", "\x1b]0;pwned\x07"}, User: "nobody", StartTicks: 400, Start: testNow.Add(-time.Minute)}
	pCurl  = &sockets.Process{PID: 1500, PPID: 1400, Name: "curl", Exe: "/usr/bin/curl", User: "alice", StartTicks: 500, Start: testNow.Add(-2 * time.Second)}
)

func sock(proto sockets.Proto, state sockets.State, local, remote string, inode uint64, procs ...*sockets.Process) sockets.Socket {
	s := sockets.Socket{Proto: proto, State: state, Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Inode: inode, Processes: procs}
	if t, ok := fixtureBytes[inode]; ok {
		s.Cookie, s.Counted, s.Bytes = inode, true, t[1]
	}
	if proto == sockets.TCP && state == sockets.Listen {
		s.Cookie = inode // read through sock_diag, as a box with counters reads it
	}
	return s
}

// fixtureBytes are the counters of the fixture's TCP connections, by
// inode: two seconds before the frame, and at it. The SSH client
// downloads, curl fetches over HTTPS, the redis pair is idle.
var fixtureBytes = map[uint64][2]sockets.Traffic{
	14: {{Rx: 50_000, Tx: 2_400_000}, {Rx: 52_000, Tx: 3_400_000}},
	15: {{Rx: 105_000_000, Tx: 9_000}, {Rx: 125_000_000, Tx: 9_000}},
	16: {{Rx: 900, Tx: 300}, {Rx: 900, Tx: 300}},
	17: {{Rx: 300, Tx: 900}, {Rx: 300, Tx: 900}},
}

// fixtureTraffic reads the frame's counters after the earlier ones, as
// the App's meter does at each refresh.
func fixtureTraffic(snap *sockets.Snapshot) *traffic.View {
	earlier := &sockets.Snapshot{Time: snap.Time.Add(-2 * time.Second), Sockets: slices.Clone(snap.Sockets)}
	for i := range earlier.Sockets {
		if t, ok := fixtureBytes[earlier.Sockets[i].Inode]; ok {
			earlier.Sockets[i].Bytes = t[0]
		}
	}
	var m traffic.Meter
	m.Read(earlier)
	v := m.Read(snap)
	v.SumByListener(verdict.ListenersOf(snap).Accepting) // as the App does
	return v
}

// fixtureSockets is a small machine: telnet on every interface, SSH
// expected on [::] with an external client, redis on loopback, a process
// with a hostile name, an outbound HTTPS connection, and a TIME_WAIT.
func fixtureSockets() []sockets.Socket {
	return []sockets.Socket{
		sock(sockets.TCP, sockets.Listen, "0.0.0.0:23", "0.0.0.0:0", 10, pInetd),
		sock(sockets.TCP, sockets.Listen, "[::]:22", "[::]:0", 11, pSSHD),
		sock(sockets.TCP, sockets.Listen, "127.0.0.1:6379", "0.0.0.0:0", 12, pRedis),
		sock(sockets.UDP, sockets.Close, "0.0.0.0:31337", "0.0.0.0:0", 13, pEvil),
		sock(sockets.TCP, sockets.Established, "[::ffff:192.0.2.5]:22", "[::ffff:198.51.100.7]:50022", 14, pSSHD),
		sock(sockets.TCP, sockets.Established, "192.0.2.5:41000", "203.0.113.9:443", 15, pCurl),
		sock(sockets.TCP, sockets.Established, "127.0.0.1:40000", "127.0.0.1:6379", 16, pCurl),
		sock(sockets.TCP, sockets.Established, "127.0.0.1:6379", "127.0.0.1:40000", 17, pRedis),
		sock(sockets.TCP, sockets.TimeWait, "192.0.2.5:40999", "203.0.113.9:443", 0),
	}
}

func frameOf(socks []sockets.Socket) *app.Inspection {
	snap := &sockets.Snapshot{Time: testNow, Sockets: socks, Complete: true, Source: "netlink"}
	base := &baseline.Baseline{Exists: true, Entries: []baseline.Entry{
		{Proto: "tcp", Port: 22, Process: "sshd", Reason: "admin SSH", Owner: "ops", Added: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
	}}
	a := verdict.Assessor{Catalog: catalog.Embedded(), Baseline: base, Interfaces: verdict.Interfaces{netip.MustParseAddr("192.0.2.5"): "eth0"}}
	in := &app.Inspection{Host: "web1", Snapshot: snap, Judged: a.Assess(snap), Baseline: base, Traffic: fixtureTraffic(snap)}
	if len(socks) > 0 {
		snap.Raw = fixtureRaw()
		held := map[int][]*sockets.RawSocket{}
		for i := range snap.Raw {
			for _, p := range snap.Raw[i].Processes {
				held[p.PID] = append(held[p.PID], &snap.Raw[i])
			}
		}
		a.Signs = func(p *sockets.Process) []signs.Sign { return signs.OfRaw(p, held[p.PID]) }
		in.Raw = a.AssessRaw(snap.Raw)
		prog := netprogs.Program{Hook: "xdp (generic)", Ifindex: 2, Interface: "eth0", ID: 41, Name: "xdp_filter",
			Tag: "a04f5eef06a7f555", LinkID: 7, Holders: []netprogs.Holder{{PID: 4343, Name: "agent", Exe: "/var/tmp/.cache/agent"}}}
		in.Programs = []netprogs.Judged{{Program: prog, Verdict: netprogs.Judge(&prog)}}
	}
	return in
}

// fixtureRaw is a DHCP client's packet socket and one whose filter waits
// for a magic packet (udp[8:2] = 0x7255), held by a program posing as
// udevd.
func fixtureRaw() []sockets.RawSocket {
	door := &sockets.Process{PID: 4242, PPID: 1, Name: "udevd", Exe: "/dev/shm/.x/udevd", User: "root", Cmdline: []string{"/sbin/udevd", "-d"}}
	dhcp := &sockets.Process{PID: 611, PPID: 1, Name: "dhclient", Exe: "/usr/sbin/dhclient", User: "root", Cmdline: []string{"dhclient", "eth0"}}
	trigger := []sockets.FilterInstruction{
		{Op: 0x28, K: 12}, {Op: 0x15, Jf: 8, K: 0x800}, {Op: 0x30, K: 23}, {Op: 0x15, Jf: 6, K: 17},
		{Op: 0x28, K: 20}, {Op: 0x45, Jt: 4, K: 0x1fff}, {Op: 0xb1, K: 14}, {Op: 0x48, K: 22},
		{Op: 0x15, Jf: 1, K: 0x7255}, {Op: 0x06, K: 0x40000}, {Op: 0x06}}
	return []sockets.RawSocket{
		{Kind: sockets.PacketSocket, Protocol: 0x0003, Ifindex: 2, Interface: "eth0", Inode: 9002,
			FilterState: sockets.FilterNone, Processes: []*sockets.Process{dhcp}},
		{Kind: sockets.PacketSocket, Protocol: 0x0800, Inode: 9001,
			FilterState: sockets.FilterAttached, Filter: trigger, Processes: []*sockets.Process{door}},
	}
}

// newTestModel returns a model sized w×h that has received frames[0].
func newTestModel(t *testing.T, w, h int, frames ...*app.Inspection) (*Model, *fixedBackend) {
	t.Helper()
	b := &fixedBackend{frames: frames, dir: t.TempDir()}
	m := New(Config{Host: "web1", Root: true, Color: true, Interval: 2 * time.Second, Now: func() time.Time { return testNow }}, b)
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	m = run(t, m, m.Init())
	return m, b
}

// update sends one message and runs nothing.
func update(t *testing.T, m *Model, msg tea.Msg) *Model {
	t.Helper()
	next, _ := m.Update(msg)
	return next.(*Model)
}

// run executes a command and feeds its message back, as the program
// would, following the commands that returns (a refresh after an action)
// a few hops deep. Commands that wait (ticks, the filter cursor's blink)
// are not followed: the fixture's own commands answer at once.
func run(t *testing.T, m *Model, cmd tea.Cmd) *Model {
	t.Helper()
	return runDepth(t, m, cmd, 4)
}

func runDepth(t *testing.T, m *Model, cmd tea.Cmd, depth int) *Model {
	if depth == 0 {
		return m
	}
	var msgs []tea.Msg
	switch msg := prompt(cmd).(type) {
	case nil, tickMsg:
		return m
	case tea.BatchMsg:
		for _, c := range msg {
			msgs = append(msgs, prompt(c))
		}
	default:
		msgs = append(msgs, msg)
	}
	for _, msg := range msgs {
		if _, isTick := msg.(tickMsg); isTick || msg == nil {
			continue
		}
		next, cmd := m.Update(msg)
		m = runDepth(t, next.(*Model), cmd, depth-1)
	}
	return m
}

// prompt runs cmd and returns its message if it answers within 100ms.
func prompt(cmd tea.Cmd) tea.Msg {
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		return msg
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// press sends a key the way the terminal reports it, and runs what it
// asks for (a detail lookup, a refresh).
func press(t *testing.T, m *Model, keys ...string) *Model {
	t.Helper()
	for _, k := range keys {
		next, cmd := m.Update(keyMsg(k))
		m = run(t, next.(*Model), cmd)
	}
	return m
}

func keyMsg(k string) tea.KeyPressMsg {
	special := map[string]rune{"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "down": tea.KeyDown,
		"up": tea.KeyUp, "pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp, "backspace": tea.KeyBackspace}
	if code, ok := special[k]; ok {
		return tea.KeyPressMsg{Code: code}
	}
	if rest, ok := strings.CutPrefix(k, "ctrl+"); ok {
		return tea.KeyPressMsg{Code: []rune(rest)[0], Mod: tea.ModCtrl}
	}
	if k == "space" {
		return tea.KeyPressMsg{Code: ' ', Text: " "}
	}
	return tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
}

// screen renders the model as plain text.
func screen(m *Model) string { return ansi.Strip(m.View().Content) }

// rowsOf returns the table's visible row texts, plain.
func rowsOf(m *Model) []string {
	lines := strings.Split(screen(m), "\n")
	t := m.table()
	end := min(len(lines), 3+min(len(t.visible), t.height))
	return lines[3:end]
}

func tea_WindowSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
