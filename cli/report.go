package cli

import (
	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/sockets"
)

func reportCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "report",
		Short: "Print a Markdown document of the open ports",
		Long: `Print a Markdown document of the open ports for the record or an audit: port,
protocol, bind, service, process, systemd unit, the baseline's reason, owner
and date, and risk; then the baseline entries that nothing listens on.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, in, err := inspectJudged(cmd, g, sockets.Query{ListeningOnly: true})
			if err != nil {
				return err
			}
			doc := report.Audit{Host: in.Host, Snapshot: in.Snapshot, Judged: in.Judged, Baseline: in.Baseline, Containers: in.Containers, Unit: app.Unit}
			if err := report.WriteMarkdown(cmd.OutOrStdout(), doc); err != nil {
				return broken(err)
			}
			return nil
		},
	}
}
