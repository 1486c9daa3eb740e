package ui

import (
	"github.com/portwarden/portwarden/app"

	"net/netip"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/sockets"
)

// syntheticFrame is a 50k-socket frame for the UI's own cost: n loopback
// connections (both ends) over procs processes. Collection is benchmarked
// on live sockets in package sockets; here only the dashboard's work is
// measured.
func syntheticFrame(n, procs int) *app.Inspection {
	ps := make([]*sockets.Process, procs)
	for i := range ps {
		ps[i] = &sockets.Process{PID: 10000 + i, Name: "worker", User: "app", StartTicks: uint64(i + 1)}
	}
	socks := make([]sockets.Socket, 0, 2*n+procs)
	for i := range procs {
		socks = append(socks, sock(sockets.TCP, sockets.Listen, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 8000).String(), "0.0.0.0:0", uint64(i+1), ps[i]))
	}
	for i := range n {
		srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i % procs >> 8), byte(i % procs)}), 8000)
		cli := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i%40000))
		socks = append(socks,
			sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Local: srv, Remote: cli, Inode: uint64(100000 + 2*i), Processes: []*sockets.Process{ps[i%procs]}},
			sockets.Socket{Proto: sockets.TCP, State: sockets.Established, Local: cli, Remote: srv, Inode: uint64(100001 + 2*i), Processes: []*sockets.Process{ps[(i+1)%procs]}})
	}
	return frameOf(socks)
}

func benchModel(b *testing.B, f *app.Inspection) *Model {
	m := New(Config{Host: "bench", Root: true, Color: true, Interval: 2 * time.Second, Now: time.Now}, &fixedBackend{frames: []*app.Inspection{f}})
	next, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	next, _ = next.(*Model).Update(frameMsg{frame: f})
	return next.(*Model)
}

// BenchmarkFilterKeystroke is one keystroke in the filter over 50k rows:
// Update (refilter) and View. The bar: under 16 ms, a frame at 60 Hz.
func BenchmarkFilterKeystroke(b *testing.B) {
	m := benchModel(b, syntheticFrame(25000, 200))
	next, _ := m.Update(keyMsg("3")) // all sockets
	next, _ = next.(*Model).Update(keyMsg("/"))
	next, _ = next.(*Model).Update(keyMsg("1"))
	m = next.(*Model)
	if n := len(m.table().rows); n < 50000 {
		b.Fatalf("%d rows", n)
	}
	keys := []tea.KeyPressMsg{keyMsg("2"), keyMsg("backspace")} // "12" then back to "1"
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		next, _ := m.Update(keys[i%2])
		m = next.(*Model)
		_ = m.View()
		i++
	}
}

// BenchmarkRefresh applies a new frame of 50k sockets where nothing
// changed, the steady state of a refresh, in the All view.
func BenchmarkRefresh(b *testing.B) {
	f := syntheticFrame(25000, 200)
	m := benchModel(b, f)
	next, _ := m.Update(keyMsg("3"))
	m = next.(*Model)
	b.ReportAllocs()
	for b.Loop() {
		next, _ := m.Update(frameMsg{frame: f})
		m = next.(*Model)
		_ = m.View()
	}
}
