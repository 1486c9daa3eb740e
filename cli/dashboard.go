package cli

import (
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/ui"
)

func dashboardCommand(g *globals) *cobra.Command {
	var (
		interval, killWait time.Duration
		readOnly           bool
		trace, historyDB   string
		pf                 peersFlags
	)
	cmd := &cobra.Command{
		Use:   "portwarden [--interval 2s] [--read-only] [--kill-wait 5s] [--trace FILE] [--history-db PATH] [--auth-log FILE] [--geoip-dir DIR]... [--no-dns]",
		Short: "See every listening port and connection, who owns it, and whether it should be there",
		Long: `portwarden shows every TCP and UDP socket with the process that owns it and a
verdict, and says which listeners are not in the admin's baseline. With no
command it opens the live dashboard (a table when stdout is not a terminal
or TERM=dumb). Run it as root to see the owner of every socket.

Exit codes: 0 ok, 1 found (check), refused or failed, 2 bad usage or error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval < 100*time.Millisecond {
				return badUsage("--interval must be at least 100ms")
			}
			out, isFile := cmd.OutOrStdout().(*os.File)
			if !isFile || !term.IsTerminal(int(out.Fd())) || os.Getenv("TERM") == "dumb" {
				return printSnapshot(cmd, g, sockets.Query{}, false)
			}
			opts := app.Options{ReadOnly: readOnly, KillWait: killWait, HistoryPath: historyDB}
			if trace != "" {
				f, err := os.OpenFile(trace, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
				if err != nil {
					return broken(fmt.Errorf("trace: %w", err))
				}
				defer f.Close()
				opts.Trace = f
			}
			// The kernel's TCP events keep the table between full reads,
			// where they can be had (root, BTF); else every refresh
			// reads everything, as it did.
			if os.Geteuid() == 0 {
				if feed, err := tcpevents.OpenFeed(); err == nil {
					defer feed.Close()
					opts.Changes = feed
				} else if opts.Trace != nil {
					fmt.Fprintf(opts.Trace, "# every refresh reads every socket: %v\n", err)
				}
			}
			a, err := g.newApp(opts)
			if err != nil {
				return broken(err)
			}
			a.EnablePeers(app.PeersOptions{AuthLog: pf.authLog, GeoIPDirs: pf.geoIPDirs, NoDNS: pf.noDNS})
			host, _ := os.Hostname()
			cfg := ui.Config{
				Host:     host,
				Root:     os.Geteuid() == 0,
				Interval: interval,
				Color:    os.Getenv("NO_COLOR") == "",
				ReadOnly: readOnly,
				Admin:    audit.Admin(),
			}
			if _, err := tea.NewProgram(ui.New(cfg, a), tea.WithOutput(out), tea.WithFPS(ui.FPS)).Run(); err != nil {
				return broken(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&interval, "interval", 2*time.Second, "time between refreshes")
	f.BoolVar(&readOnly, "read-only", false, "hide and refuse every action (mark, unmark, kill, disable)")
	f.DurationVar(&killWait, "kill-wait", 5*time.Second, "how long a kill waits for the process to end")
	f.StringVar(&historyDB, "history-db", history.DefaultPath, "the flight recorder's record, for the History view (6) and when each socket was first seen")
	f.StringVar(&trace, "trace", "", "append a line per refresh with its timings to `FILE` (for benchmarks)")
	f.StringVar(&pf.authLog, "auth-log", "", "the log of failed logins, for the Peers view (default: /var/log/auth.log, /var/log/secure, else the journal)")
	f.StringSliceVar(&pf.geoIPDirs, "geoip-dir", nil, "a directory of .mmdb files, for the Peers view (default: /usr/share/GeoIP, /var/lib/GeoIP)")
	f.BoolVar(&pf.noDNS, "no-dns", false, "do not look up reverse DNS names in the Peers view")
	return cmd
}
