package app

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// quietHolder holds what the dashboard reads beside TCP and UDP: a packet
// socket with a filter (passing nothing this box receives) and a raw ICMP
// socket.
const quietHolder = `
import ctypes, socket, struct, sys
code = [(0x06,0,0,0)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *c) for c in code))
pk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
pk.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(code), ctypes.addressof(buf)))
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("ready", flush=True)
sys.stdin.read()
`

// BenchmarkQuietRefresh measures the dashboard's refresh when nothing
// changes — the incremental collector following the kernel's TCP events,
// then judging — on a live population beside a packet and a raw socket:
// what a dashboard left open costs. Written to build against earlier
// versions too, so two builds compare in one run (docs/performance.md).
// PORTWARDEN_BENCH_CONNS and PORTWARDEN_BENCH_PROCS size the population.
func BenchmarkQuietRefresh(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("reading every owner needs root")
	}
	pop, err := sockettest.Start(sockettest.BenchConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer pop.Close()
	holder := exec.Command("/usr/bin/python3", "-c", quietHolder)
	stdin, _ := holder.StdinPipe()
	stdout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); holder.Process.Kill(); holder.Wait() }()
	if s := bufio.NewScanner(stdout); !s.Scan() {
		b.Fatal("the raw socket holder did not start")
	}
	feed, err := tcpevents.OpenFeed()
	if err != nil {
		b.Fatalf("eBPF (root, BTF) is needed: %v", err)
	}
	defer feed.Close()
	dir := b.TempDir()
	a, err := New(Options{BaselinePath: filepath.Join(dir, "baseline.toml"), AuditPath: filepath.Join(dir, "audit.log"), Changes: feed})
	if err != nil {
		b.Fatal(err)
	}
	for range 3 { // the first refreshes fill every cache, as the dashboard's do
		if _, err := a.Inspect(sockets.Query{}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := a.Inspect(sockets.Query{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(pop.Sockets), "sockets")
}
