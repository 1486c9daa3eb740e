package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/services/atomicfile"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

func checkCommand(g *globals) *cobra.Command {
	var (
		asJSON, failUnreachable bool
		prom                    string
		failOn, failOnExternal  string
		failOnSign, historyDB   string
		pc                      peerCheck
	)
	cmd := &cobra.Command{
		Use:   "check [--json] [--prometheus FILE] [--fail-on RISK] [--fail-on-external RISK] [--fail-on-sign RISK] [--fail-on-unreachable] [--fail-on-scan PORTS] [--fail-on-failed-logins N] [--history-db PATH] [--auth-log FILE] [--geoip-dir DIR]...",
		Short: "Exit 0 when all is expected, 1 when not (listed), 2 on error",
		Long: `Judge every socket against the baseline, for cron and monitoring. It fails on
an unexpected listener (at or above --fail-on) that something outside this host
can reach (one bound to loopback, or that the firewall stops, is reported but
fails only with --fail-on-unreachable), an inbound connection from an
external address to an unexpected listener, and an outbound connection to an
external address on a high-risk service (at or above --fail-on-external:
cleartext remote shells, backdoor ports, IRC). A sign of a rogue process on a
socket's process (a shell on a socket, a deleted or modified binary…) at or
above --fail-on-sign fails too, even where the baseline documents the socket.
An external client of a
listener the baseline expects is the service doing its job: counted, not a
failure. Exit 0 when nothing fails, 1 when something does (listed with its
reasons), 2 on an error such as a baseline that cannot be read.

Where the flight recorder runs (portwarden record), check also judges what
came and went since its last run: a listener that opened and closed, or an
external connection to a high-risk service, between two runs fails the next
one (listed after the live failures; with --json, under "between_checks").
So does, with --fail-on-scan, a scan of that many closed ports, and with
--fail-on-failed-logins, that many failed logins from one peer; where scans
or failed logins cannot be read, such a check exits 2.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			policy := verdict.DefaultPolicy()
			policy.FailUnreachable = failUnreachable
			var err error
			if policy.FailOn, err = catalog.ParseRisk(failOn); err != nil {
				return badUsage("--fail-on: %v", err)
			}
			if policy.FailOnExternal, err = catalog.ParseRisk(failOnExternal); err != nil {
				return badUsage("--fail-on-external: %v", err)
			}
			if policy.FailOnSign, err = catalog.ParseRisk(failOnSign); err != nil {
				return badUsage("--fail-on-sign: %v", err)
			}
			start := time.Now()
			a, in, err := inspectJudged(cmd, g, sockets.Query{})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			past, recorder, pastErr := judgePast(cmd.ErrOrStderr(), a, in, historyDB, policy)
			if pastErr == nil {
				past, pastErr = pc.judge(cmd.ErrOrStderr(), a, in, historyDB, past)
			}
			pastFailing := past.Count()
			if prom != "" {
				metrics := report.Prometheus(in.Snapshot, in.Judged, portless(in), policy)
				metrics = append(metrics, report.FleetMetrics(in.Judged, app.Unit)...)
				if pastErr == nil {
					metrics = append(metrics, report.PastMetrics(pastFailing)...)
				}
				if recorder != nil {
					metrics = append(metrics, report.RecorderMetrics(*recorder)...)
				}
				metrics = append(metrics, pc.metrics(a, in, historyDB)...)
				metrics = append(metrics, report.RunMetrics(time.Since(start), pastErr == nil)...)
				if err := atomicfile.Write(prom, metrics); err != nil {
					return broken(err)
				}
			}
			if asJSON {
				err = report.WriteCheckJSON(out, in.Host, in.Snapshot, in.Containers, in.Baseline, in.Judged, portless(in), policy, past)
			} else if err = report.WriteCheck(out, in.Judged, portless(in), policy); err == nil {
				err = report.WritePast(out, past)
			}
			if err != nil {
				return broken(fmt.Errorf("write: %w", err))
			}
			if pastErr != nil {
				return broken(fmt.Errorf("the flight recorder's record: %w", pastErr))
			}
			if !in.Baseline.Exists {
				init := "portwarden baseline init"
				if cmd.Flags().Changed("baseline") {
					init += " --baseline " + shellQuote(in.Baseline.Path)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "portwarden check: no baseline at %s: record today's listeners with `%s`\n", in.Baseline.Path, init)
			}
			sum := verdict.Summarize(in.Judged, policy)
			sum.AddRaw(in.Raw, policy)
			sum.AddPrograms(in.Programs, policy)
			if !sum.OK() || pastFailing > 0 {
				return silent(ExitFail)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	def := verdict.DefaultPolicy()
	cmd.Flags().StringVar(&failOn, "fail-on", def.FailOn.String(), "least `RISK` of an unexpected listener that fails the check (none, low, medium, high, critical)")
	cmd.Flags().StringVar(&failOnExternal, "fail-on-external", def.FailOnExternal.String(), "least `RISK` of the service an outbound external connection reaches that fails the check")
	cmd.Flags().StringVar(&failOnSign, "fail-on-sign", def.FailOnSign.String(), "least `RISK` of a sign of a rogue process that fails the check, even on a socket the baseline documents")
	cmd.Flags().BoolVar(&failUnreachable, "fail-on-unreachable", false, "fail unexpected listeners nothing outside this host can reach, too (bound to loopback, or firewalled off)")
	cmd.Flags().StringVar(&historyDB, "history-db", history.DefaultPath, "the flight recorder's record, judged since the last check where it exists")
	cmd.Flags().StringVar(&prom, "prometheus", "", "also write node_exporter textfile metrics to `FILE` (atomically)")
	cmd.Flags().IntVar(&pc.scanPorts, "fail-on-scan", 0, "fail on a scan of at least `PORTS` closed ports since the last check (from the flight recorder; 0: off)")
	cmd.Flags().IntVar(&pc.failedLogins, "fail-on-failed-logins", 0, "fail on at least `N` failed logins from one peer since the last check (0: off)")
	cmd.Flags().StringVar(&pc.authLog, "auth-log", "", "the log of failed logins (default: /var/log/auth.log, /var/log/secure, else the journal)")
	cmd.Flags().StringSliceVar(&pc.geoIPDirs, "geoip-dir", nil, "a directory of .mmdb files, to name the top peers' networks in the metrics")
	return cmd
}
