package sockets

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// BenchmarkCollectNamespaces measures what each extra network namespace
// costs a collection: the same population, with 0 and 30 namespaces made
// by `ip netns add` beside it, each holding a listener on its loopback.
// The difference divided by 30 is the cost of one namespace.
func BenchmarkCollectNamespaces(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("making namespaces needs root")
	}
	pop := population(b)
	for _, n := range []int{0, 30} {
		b.Run(fmt.Sprintf("extra=%d", n), func(b *testing.B) {
			for i := range n {
				name := fmt.Sprintf("pwbench-%d-%d", os.Getpid()%100000, i)
				if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
					b.Fatalf("ip netns add: %v %s", err, out)
				}
				b.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
				// A listener inside, held by a process living there.
				cmd := exec.Command("ip", "netns", "exec", name, "sh", "-c", "ip link set lo up && exec busybox nc -ll -p 5432 -e /bin/true")
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			}
			c := NewLinuxCollector("/proc", Auto)
			var snap *Snapshot
			for b.Loop() {
				var err error
				if snap, err = c.Collect(Query{}); err != nil {
					b.Fatal(err)
				}
			}
			if len(snap.Namespaces) < n+1 || len(snap.Sockets) < pop.Sockets {
				b.Fatalf("saw %d namespaces and %d sockets, want %d and %d", len(snap.Namespaces), len(snap.Sockets), n+1, pop.Sockets)
			}
			b.ReportMetric(float64(len(snap.Namespaces)), "namespaces")
		})
	}
}
