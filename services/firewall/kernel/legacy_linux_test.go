package kernel

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestLegacyInUse: iptables-legacy tables that merely exist (listing the
// rules instantiates them, empty, with ACCEPT policies) change nothing;
// a rule or a DROP policy does, IPv4 and IPv6 alike.
func TestLegacyInUse(t *testing.T) {
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		t.Skip("iptables-legacy is not installed")
	}
	ns := sockettest.NamespaceForTest(t, "pw-legacy")
	run := func(name string, args ...string) {
		t.Helper()
		if err := ns.Run(name, args...); err != nil {
			t.Fatal(err)
		}
	}
	path := ns.Path()
	inUse := func() []string {
		t.Helper()
		var names []string
		for prefix, file := range map[string]string{"": "ip_tables_names", "ip6:": "ip6_tables_names"} {
			out, _ := exec.Command("ip", "netns", "exec", ns.Name, "cat", "/proc/net/"+file).Output()
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
