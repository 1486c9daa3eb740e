// Package firewall reads what a network namespace's packet filter says
// about who can reach a listener. It reads the nftables ruleset over
// netlink (rules of nft and iptables-nft alike), compiles it, and follows
// a new connection through it from every class of source (Decide); it
// finds the port forwards that publish containers (ReadDNAT), notes
// iptables-legacy tables it cannot evaluate, and keeps portwarden's own
// blocks in a table of their own (Blocker).
package firewall

import (
	"os"
	"strings"
)

// LegacyTables lists the iptables-legacy (x_tables) tables in use in the
// namespace whose /proc/PID/net (or /proc/net) directory is dir: the
// lines of ip_tables_names and ip6_tables_names, as "nat", "ip6:filter".
// iptables-nft and nft rules are not among them.
func LegacyTables(dir string) []string {
	var out []string
	for _, f := range []struct{ file, prefix string }{{"ip_tables_names", ""}, {"ip6_tables_names", "ip6:"}} {
		b, err := os.ReadFile(dir + "/" + f.file)
		if err != nil {
			continue
		}
		for _, name := range strings.Fields(string(b)) {
			out = append(out, f.prefix+name)
		}
	}
	return out
}
