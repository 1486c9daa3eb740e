package app

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/services/traffic"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestRatesOfARealTransfer: Debian's python3 sends 256 KiB every 125 ms
// (2 MiB a second) to a server in another namespace, as the dashboard
// sees it (the kernel's events between dumps). Each refresh after the
// first gives the connection and its process a rate near 2 MiB/s, and the
// server's listener (read in full collections) the sum of what it
// accepted; once the sender stops, the connection's total is exactly
// what it sent.
func TestRatesOfARealTransfer(t *testing.T) {
	pair := sockettest.PairForTest(t, "pwrate")
	pair.SinkForTest(t, 9443)
	client := pair.Client
	feed, err := tcpevents.OpenFeed()
	if err != nil {
		t.Fatalf("eBPF (root, BTF) is needed: %v", err)
	}
	defer feed.Close()
	a, _ := newApp(t, Options{Changes: feed, NetNS: sockets.NetNSFilter(client.Name)})
	server, _ := newApp(t, Options{NetNS: sockets.NetNSFilter(pair.Server.Name)})

	sender := sockettest.PythonForTest(t, client, `
import socket, sys, threading, time
c = socket.create_connection(("198.51.100.7", 9443))
print("connected", flush=True)
stop, sent, chunk = threading.Event(), 0, b"x" * (256 << 10)
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
start = time.monotonic()
while not stop.is_set():
    c.sendall(chunk); sent += len(chunk)
    time.sleep(max(0, start + sent / (2 << 20) - time.monotonic()))
print(sent, flush=True)
time.sleep(3600)`)
	sender.Expect(t, "connected")

	// conn finds the sender's connection in an inspection.
	conn := func(in *Inspection) *sockets.Socket {
		for i := range in.Snapshot.Sockets {
			if s := &in.Snapshot.Sockets[i]; s.Remote.Port() == 9443 && s.State == sockets.Established {
				return s
			}
		}
		t.Fatal("the sender's connection is not in the inspection")
		return nil
	}
	const rate = 2 << 20
	listenerRate(t, server, 9443) // the server's first reading: totals only
	var rated int
	for range 4 {
		time.Sleep(time.Second) // the dashboard's interval: rates are over it
		in, err := a.Inspect(sockets.Query{})
		if err != nil {
			t.Fatal(err)
		}
		s := conn(in)
		_, r, counted, ok := in.Traffic.Of(s)
		if !counted {
			t.Fatal("the connection has no counters")
		}
		if !ok {
			continue // its first reading: totals only
		}
		rated++
		if r.Tx < 0.6*rate || r.Tx > 1.4*rate {
			t.Errorf("the connection's rate: %.0f B/s sent; want about %d", r.Tx, rate)
		}
		if p := in.Traffic.ByProcess()[s.Processes[0].PID]; p != r {
			t.Errorf("the process's rate %+v, want its one connection's %+v", p, r)
		}
		if served, ok := listenerRate(t, server, 9443); !ok || served.Rx < 0.6*rate || served.Rx > 1.4*rate {
			t.Errorf("the server's listener: %+v (summed: %v); want about %d B/s received", served, ok, rate)
		}
	}
	if rated < 3 {
		t.Fatalf("%d refreshes had a rate; want every one after the first", rated)
	}
	sent, err := strconv.ParseUint(strings.TrimSpace(sender.Say(t, "stop")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var total sockets.Traffic
	if !sockettest.WaitFor(5*time.Second, func() bool {
		in, err := a.Inspect(sockets.Query{})
		if err != nil {
			t.Fatal(err)
		}
		total, _, _, _ = in.Traffic.Of(conn(in))
		return total.Tx == sent
	}) {
		t.Fatalf("the connection's total: %d bytes sent; the sender sent %d", total.Tx, sent)
	}
}

// listenerRate inspects a and returns the summed rate of what its
// listener on port accepted.
func listenerRate(t *testing.T, a *App, port uint16) (traffic.Rate, bool) {
	t.Helper()
	in, err := a.Inspect(sockets.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range in.Snapshot.Sockets {
		if s := &in.Snapshot.Sockets[i]; s.Listening() && s.Local.Port() == port {
			return in.Traffic.Listener(s)
		}
	}
	t.Fatalf("no listener on port %d", port)
	return traffic.Rate{}, false
}
