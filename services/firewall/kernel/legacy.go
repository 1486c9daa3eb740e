package kernel

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
