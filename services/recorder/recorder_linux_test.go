package recorder

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// pair is two network namespaces joined by a veth pair, addressed from a
// documentation range: nothing on the host's own links or routes.
type pair struct {
	*sockettest.Pair
	client, server *sockettest.Namespace
	serverAddr     netip.Addr
}

func newPair(t *testing.T) *pair {
	p := sockettest.PairForTest(t, "pwrec")
	return &pair{Pair: p, client: p.Client, server: p.Server, serverAddr: p.ServerAddr}
}

// serve listens on port in the server namespace and accepts (then closes)
// every connection until the test ends. It returns the count of accepted
// connections.
func (p *pair) serve(t *testing.T, port uint16) *atomic.Int64 {
	accepted := new(atomic.Int64)
	p.ServeForTest(t, port, func(c net.Conn) { accepted.Add(1); c.Close() })
	return accepted
}

// startRecorder records into a new database until the test ends, and
// waits for its first commit.
func startRecorder(t *testing.T, source string) string {
	if os.Geteuid() != 0 {
		t.Skip("recording every namespace needs root")
	}
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := history.Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{DB: db, Retention: history.DefaultRetention, Source: source,
			Status: func(line string) { t.Log(line) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		db.Close()
	})
	waitFor(t, path, "the first commit", func(db *history.DB) bool {
		c, err := db.LastCommit()
		return err == nil && !c.IsZero()
	})
	return path
}

// waitFor reads the record until ok says it holds what the test waits for.
func waitFor(t *testing.T, path, what string, ok func(*history.DB) bool) {
	t.Helper()
	waitSaying(t, path, what, 30*time.Second, ok, nil)
}

// waitSaying is waitFor with its own deadline, saying what the record
// showed last (saw) when it gives up: on a busy machine a deadline is
// generous, and a failure says how far things got.
func waitSaying(t *testing.T, path, what string, limit time.Duration, ok func(*history.DB) bool, saw func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		db, err := history.Open(path, false)
		if err == nil {
			done := ok(db)
			db.Close()
			if done {
				return
			}
		}
		if time.Now().After(deadline) {
			last := ""
			if saw != nil {
				last = "; it showed " + saw()
			}
			t.Fatalf("the record never showed %s in %v (last error: %v%s)", what, limit, err, last)
		}
		time.Sleep(50 * time.Millisecond) // poll the file; the recorder commits every second
	}
}

func query(db *history.DB, f history.Filter) []history.Lifetime {
	var out []history.Lifetime
	db.Query(f, func(l *history.Lifetime) error { out = append(out, *l); return nil })
	return out
}

// TestShortConnectionsAndListenersWithTheirProcesses: 50 ms connections
// made by short-lived processes in another namespace, the connections they
// made arriving at a listener, and a 300 ms listener, all recorded with the
// processes that owned them.
func TestShortConnectionsAndListenersWithTheirProcesses(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	path := startRecorder(t, "auto")
	p := newPair(t)
	p.serve(t, 8080)

	var pids []int
	for range 5 {
		cmd := exec.Command("ip", "netns", "exec", p.client.Name, "bash", "-c",
			"exec 3<>/dev/tcp/198.51.100.7/8080; sleep 0.05; exec 3>&-")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("client: %v: %s", err, out)
		}
		pids = append(pids, cmd.Process.Pid) // ip netns exec execs bash: one PID
	}
	listener := exec.Command("ip", "netns", "exec", p.client.Name, "python3", "-c",
		"import socket, time; s = socket.socket(); s.bind(('0.0.0.0', 9090)); s.listen(); time.sleep(0.3)")
	if out, err := listener.CombinedOutput(); err != nil {
		t.Fatalf("listener: %v: %s", err, out)
	}

	var out, in, lns []history.Lifetime
	waitFor(t, path, "5 connections each way and the listener", func(db *history.DB) bool {
		out = query(db, history.Filter{Port: 8080, Kind: history.Connection, Peer: netip.MustParsePrefix("198.51.100.7/32")})
		in = query(db, history.Filter{Port: 8080, Kind: history.Connection, Peer: netip.MustParsePrefix("198.51.100.1/32")})
		lns = query(db, history.Filter{Port: 9090, Kind: history.Listener})
		return len(out) >= 5 && len(in) >= 5 && len(lns) >= 1 && !lns[0].Open && !out[4].Open && !in[4].Open
	})
	for i, l := range out {
		if l.Owner.PID != pids[i] || l.Owner.Process != "bash" || l.Direction != history.Outbound || l.Source != history.EBPF {
			t.Errorf("outbound %d: %+v, want PID %d (bash), outbound, ebpf", i, l, pids[i])
		}
		if d := l.LastSeen.Sub(l.FirstSeen); d < 50*time.Millisecond || d > 5*time.Second || l.Local.Port() == 0 {
			t.Errorf("outbound %d lasted %v from %v", i, d, l.Local)
		}
	}
	for i, l := range in {
		if l.Owner.PID != os.Getpid() || l.Direction != history.Inbound || l.Local.Addr() != p.serverAddr {
			t.Errorf("inbound %d: %+v, want PID %d (the accepting test), inbound", i, l, os.Getpid())
		}
	}
	l := lns[0]
	if d := l.LastSeen.Sub(l.FirstSeen); l.Owner.PID != listener.Process.Pid || l.Owner.Process != "python3" || d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("listener: %+v, lasted %v; want PID %d python3 for about 300ms", l, d, listener.Process.Pid)
	}
}

// TestBurstLosesNothing: 20,000 connections as fast as four threads can
// make them, every one recorded at both ends, nothing lost.
func TestBurstLosesNothing(t *testing.T) {
	path := startRecorder(t, "ebpf")
	p := newPair(t)
	accepted := p.serve(t, 8081)
	const workers, each = 4, 5000
	errs := make(chan error, workers)
	for range workers {
		go func() {
			errs <- p.client.Do(func() error {
				for range each {
					c, err := net.Dial("tcp4", "198.51.100.7:8081")
					if err != nil {
						return err
					}
					c.Close()
				}
				return nil
			})
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A connection the listener's full queue held back is established at
	// the client only, and is accepted later, or never: count what the
	// server took, once it stops growing.
	var out, in int
	var stats history.Stats
	waitSaying(t, path, fmt.Sprintf("%d connections out and every accepted one in", workers*each), 2*time.Minute, func(db *history.DB) bool {
		out, in = 0, 0
		db.Query(history.Filter{Port: 8081, Kind: history.Connection}, func(l *history.Lifetime) error {
			if l.Direction == history.Outbound {
				out++
			} else {
				in++
			}
			return nil
		})
		stats, _ = db.Stats()
		return out == workers*each && int64(in) == accepted.Load()
	}, func() string {
		return fmt.Sprintf("%d out, %d in of %d accepted, stats %+v", out, in, accepted.Load(), stats)
	})
	if stats.Lost != 0 || stats.Source != history.EBPF {
		t.Errorf("stats %+v: want nothing lost, from eBPF", stats)
	}
	if in < workers*each*9/10 {
		t.Errorf("only %d of %d connections accepted: the burst tested little", in, workers*each)
	}
}

// TestPollingFallbackIsLabelled: forced to poll, the recorder still sees
// a connection that lasts longer than its interval, says how it saw it,
// and runs without eBPF.
func TestPollingFallbackIsLabelled(t *testing.T) {
	path := startRecorder(t, "poll")
	p := newPair(t)
	p.serve(t, 8082)
	var c net.Conn
	if err := p.client.Do(func() (err error) { c, err = net.Dial("tcp4", "198.51.100.7:8082"); return err }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, path, "the connection, by polling", func(db *history.DB) bool {
		got := query(db, history.Filter{Port: 8082, Kind: history.Connection, Peer: netip.MustParsePrefix("198.51.100.7/32")})
		return len(got) == 1 && got[0].Source == history.Poll && got[0].Owner.PID == os.Getpid() && got[0].Direction == history.Outbound
	})
	c.Close()
	waitFor(t, path, "its end", func(db *history.DB) bool {
		got := query(db, history.Filter{Port: 8082, Kind: history.Connection, Peer: netip.MustParsePrefix("198.51.100.7/32")})
		s, err := db.Stats()
		return len(got) == 1 && !got[0].Open && err == nil && s.Source == history.Poll
	})
	// Polling, probes of closed ports are counted, not traced: five UDP
	// datagrams to a port nothing listens on, in the recorder's own
	// namespace, are at least five of them.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close() // nothing listens there now
	for range 5 {
		c, err := net.Dial("udp4", closed)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("probe"))
		c.Close()
	}
	waitFor(t, path, "five probes counted, without sources", func(db *history.DB) bool {
		k, err := db.ScanKnowledge()
		return err == nil && k.Source == history.Poll && k.UnnamedUDP >= 5
	})
}

// TestShortLivedClientsKeepTheirUser: clients run as nobody that connect
// and exit at once — gone before /proc can be read — keep their user,
// which the kernel read with the event.
func TestShortLivedClientsKeepTheirUser(t *testing.T) {
	path := startRecorder(t, "auto")
	p := newPair(t)
	p.serve(t, 8081)
	for range 10 {
		cmd := exec.Command("ip", "netns", "exec", p.client.Name, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"bash", "--noprofile", "--norc", "-c", "exec 3<>/dev/tcp/198.51.100.7/8081")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("client: %v: %s", err, out)
		}
	}
	nobody := "65534"
	if u, err := user.LookupId(nobody); err == nil {
		nobody = u.Username
	}
	var out []history.Lifetime
	waitFor(t, path, "10 connections from clients run as nobody", func(db *history.DB) bool {
		out = query(db, history.Filter{Port: 8081, Kind: history.Connection, Peer: netip.MustParsePrefix("198.51.100.7/32")})
		return len(out) >= 10
	})
	for i, l := range out {
		if l.Owner.User != nobody || l.Owner.Process != "bash" || l.Owner.PID == 0 {
			t.Errorf("client %d: owner %+v, want bash run by %s", i, l.Owner, nobody)
		}
	}
}
