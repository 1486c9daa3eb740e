package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLegacyInUse: iptables-legacy tables that merely exist (listing the
// rules instantiates them, empty, with ACCEPT policies) change nothing;
// a rule or a DROP policy does, IPv4 and IPv6 alike.
func TestLegacyInUse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		t.Skip("iptables-legacy is not installed")
	}
	ns := fmt.Sprintf("pw-legacy-%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	path := "/run/netns/" + ns
	inUse := func() []string {
		t.Helper()
		var names []string
		for prefix, file := range map[string]string{"": "ip_tables_names", "ip6:": "ip6_tables_names"} {
			out, _ := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/"+file).Output()
			for _, n := range strings.Fields(string(out)) {
				names = append(names, prefix+n)
			}
		}
		used, err := LegacyInUse(path, names)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(used)
		return used
	}
	run("iptables-legacy", "-L", "-n")
	run("ip6tables-legacy", "-t", "mangle", "-L", "-n")
	if used := inUse(); len(used) != 0 {
		t.Errorf("empty tables with ACCEPT policies read as in use: %v", used)
	}
	run("ip6tables-legacy", "-t", "mangle", "-P", "PREROUTING", "DROP")
	if used := inUse(); !slices.Equal(used, []string{"ip6:mangle"}) {
		t.Errorf("a DROP policy: in use %v, want [ip6:mangle]", used)
	}
	run("iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	if used := inUse(); !slices.Equal(used, []string{"filter", "ip6:mangle"}) {
		t.Errorf("a rule: in use %v, want [filter ip6:mangle]", used)
	}
}
