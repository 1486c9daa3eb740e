//go:build linux

package sockettest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portwarden/portwarden/internal/netns"
)

// Namespace is a network namespace made by a test.
type Namespace struct{ Name string }

// Path is the namespace's file, for setns.
func (n *Namespace) Path() string { return "/run/netns/" + n.Name }

// Do runs fn on an OS thread moved into the namespace: sockets fn creates
// belong to the namespace (and to this process).
func (n *Namespace) Do(fn func() error) error { return netns.Do(n.Path(), fn) }

// Run runs a command inside the namespace and returns its error with its
// output.
func (n *Namespace) Run(name string, args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s in %s: %v: %s", name, strings.Join(args, " "), n.Name, err, out)
	}
	return nil
}

// KillAll ends every process living in the namespace — a namespace a
// test made holds only what the test started, and what those started
// (a pipeline's children, a forked shell) — and waits until none is left.
func (n *Namespace) KillAll() error {
	pids := func() []int {
		out, _ := exec.Command("ip", "netns", "pids", n.Name).Output()
		var list []int
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				list = append(list, pid)
			}
		}
		return list
	}
	for _, pid := range pids() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if !WaitFor(10*time.Second, func() bool { return len(pids()) == 0 }) {
		return fmt.Errorf("processes still live in namespace %s: %v", n.Name, pids())
	}
	return nil
}

// IP runs `ip -n NAME args…` and returns its error with its output.
func (n *Namespace) IP(args ...string) error {
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s in %s: %v: %s", strings.Join(args, " "), n.Name, err, out)
	}
	return nil
}

// NamespaceForTest makes an empty network namespace named prefix-PID, with
// its loopback up, or skips t where it cannot (not root); it removes the
// namespace, and with it every link and ruleset in it, when t ends, on
// failure too.
func NamespaceForTest(t testing.TB, prefix string) *Namespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	n := &Namespace{Name: fmt.Sprintf("%s-%d", prefix, os.Getpid()%100000)}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", n.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	if err := n.IP("link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	return n
}
