package cli

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/peers"
	"github.com/portwarden/portwarden/sockets"
)

type peersFlags struct {
	db, since, authLog string
	geoIPDirs          []string
	noDNS, asJSON      bool
}

func peersCommand(g *globals) *cobra.Command {
	var pf peersFlags
	cmd := &cobra.Command{
		Use:   "peers [--json] [--since 24h|RFC3339] [--db PATH] [--auth-log FILE] [--geoip-dir DIR]... [--no-dns]",
		Short: "Show every remote address: what it has tried, whether it is banned, who it is",
		Long: `Print every remote address seen now or in the record, the one that tried most
first: connections open now (and SSH connections nobody has logged in on),
lifetimes recorded, local ports touched, scans of closed ports (from the
recorder's eBPF), failed SSH logins (from /var/log/auth.log, /var/log/secure
or the journal), bans (portwarden's blocks, fail2ban, sshguard, CrowdSec and
other sets a dropping rule matches), reverse DNS name, network owner and
country (from .mmdb files in /usr/share/GeoIP or /var/lib/GeoIP). --json
prints JSON Lines, one peer each. What could not be read is said on stderr;
its facts are unknown, not absent.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runPeers(cmd, g, &pf) },
	}
	f := cmd.Flags()
	f.StringVar(&pf.db, "db", history.DefaultPath, "the history database (past connections and scans)")
	f.StringVar(&pf.since, "since", "24h", "from this long ago (1h, 7d) or this time (RFC 3339)")
	f.StringVar(&pf.authLog, "auth-log", "", "the log of failed logins (default: /var/log/auth.log, /var/log/secure, else the journal)")
	f.StringSliceVar(&pf.geoIPDirs, "geoip-dir", nil, "a directory of .mmdb files (default: /usr/share/GeoIP, /var/lib/GeoIP)")
	f.BoolVar(&pf.noDNS, "no-dns", false, "do not look up reverse DNS names")
	f.BoolVar(&pf.asJSON, "json", false, "JSON Lines: one object per peer")
	return cmd
}

func runPeers(cmd *cobra.Command, g *globals, pf *peersFlags) error {
	now := time.Now()
	since, err := parseWhen(pf.since, now)
	if err != nil || !since.Before(now) {
		return badUsage("--since %q: want a duration (1h, 7d) or a time in the past (RFC 3339)", pf.since)
	}
	a, err := g.newApp(app.Options{HistoryPath: pf.db})
	if err != nil {
		return broken(err)
	}
	a.EnablePeers(app.PeersOptions{Since: now.Sub(since), AuthLog: pf.authLog, GeoIPDirs: pf.geoIPDirs, NoDNS: pf.noDNS})
	in, err := inspect(cmd, a, sockets.Query{})
	if err != nil {
		return err
	}
	v := a.Peers(in)
	if !pf.noDNS {
		// Names asked for during the inspection, and those no lookup was
		// free for then: a few seconds to answer, no more.
		deadline := now.Add(3 * time.Second)
		for slices.ContainsFunc(v.Peers, func(p peers.Peer) bool { return p.Name.Pending }) && time.Now().Before(deadline) {
			a.WaitNames(time.Until(deadline))
			a.NamePeers(v)
		}
	}
	for _, w := range v.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "portwarden: warning: %s\n", safetext.Visible(w))
	}
	if !pf.asJSON {
		for _, s := range v.Sources {
			fmt.Fprintf(cmd.ErrOrStderr(), "portwarden: %s\n", safetext.Visible(s))
		}
	}
	out := cmd.OutOrStdout()
	if pf.asJSON {
		err = report.WritePeersJSON(out, v.Peers)
	} else {
		err = report.WritePeersTable(out, v.Peers, now, terminalWidth(out))
	}
	if err != nil {
		return broken(fmt.Errorf("write: %w", err))
	}
	return nil
}
