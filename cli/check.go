package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/services/atomicfile"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

func checkCommand(g *globals) *cobra.Command {
	var (
		asJSON bool
		prom   string
	)
	cmd := &cobra.Command{
		Use:   "check [--json] [--prometheus FILE]",
		Short: "Exit 0 when all is expected, 1 when not (listed), 2 on error",
		Long: `Judge every socket against the baseline, for cron and monitoring. Exit 0 when
every listener is expected and no external connection is at medium risk or
above; 1 when something is (listed with its reasons); 2 on an error, such as
a baseline that cannot be read.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, in, err := inspectJudged(cmd, g, sockets.Query{})
			if err != nil {
				return err
			}
			if prom != "" {
				if err := atomicfile.Write(prom, report.Prometheus(in.Snapshot, in.Judged)); err != nil {
					return broken(err)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = report.WriteCheckJSON(out, in.Host, in.Snapshot, in.Baseline, in.Judged)
			} else {
				err = report.WriteCheck(out, in.Judged)
			}
			if err != nil {
				return broken(fmt.Errorf("write: %w", err))
			}
			if !in.Baseline.Exists {
				init := "portwarden baseline init"
				if cmd.Flags().Changed("baseline") {
					init += " --baseline " + shellQuote(in.Baseline.Path)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "portwarden check: no baseline at %s: record today's listeners with `%s`\n", in.Baseline.Path, init)
			}
			if !verdict.Summarize(in.Judged).OK() {
				return silent(ExitFail)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&prom, "prometheus", "", "also write node_exporter textfile metrics to `FILE` (atomically)")
	return cmd
}
