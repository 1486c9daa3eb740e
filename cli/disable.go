package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/sockets"
)

func disableCommand(g *globals) *cobra.Command {
	var (
		af   actionFlags
		mask bool
	)
	cmd := &cobra.Command{
		Use:   "disable [--mask] [--yes] [--dry-run] [--force] [--all] TARGET",
		Short: "Keep the service behind a socket from coming back",
		Long: `Stop and disable the service behind a listening socket: a systemd unit (--mask
masks it instead), an inetd or xinetd entry, or a SysV or OpenRC init script.
What starts it is found from the process, never guessed. portwarden prints the
exact steps first, --dry-run stops there, it asks unless --yes, and the result
goes to the audit log. TARGET is as for kill.`,
		Args: oneTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			how := disable.Disable
			if mask {
				how = disable.Mask
			}
			return runDisable(cmd, g, af, how, args[0])
		},
	}
	af.register(cmd, "service", "disable a service")
	cmd.Flags().BoolVar(&mask, "mask", false, "mask a systemd unit instead of disabling it")
	return cmd
}

func runDisable(cmd *cobra.Command, g *globals, af actionFlags, how disable.How, arg string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if af.readOnly {
		return fail("refused: --read-only")
	}
	if err := action.CheckTarget(arg); err != nil {
		return badUsage("%v", err)
	}
	a, err := g.newApp(app.Options{})
	if err != nil {
		return broken(err)
	}
	in, err := inspect(cmd, a, sockets.Query{ListeningOnly: true})
	if err != nil {
		return err
	}
	socks, err := a.DisableSockets(in.Snapshot, arg)
	if err != nil {
		return fail("%v", err)
	}
	plan, err := a.PlanDisable(in.Containers, socks, how)
	if err != nil {
		return fail("%v", err)
	}
	if len(plan.Services) > 1 && !af.all {
		fmt.Fprintf(stderr, "portwarden disable: %s is provided by %d services; name one, or use --all:\n", arg, len(plan.Services))
		for _, p := range plan.Services {
			fmt.Fprintf(stderr, "  %s\n", safetext.Visible(p.String()))
		}
		return silent(ExitFail)
	}
	for _, p := range plan.Services {
		fmt.Fprintf(stdout, "disable %s:\n", safetext.Visible(p.String()))
		for i, s := range p.Steps {
			fmt.Fprintf(stdout, "  %d. %s\n", i+1, safetext.Visible(s.Describe))
		}
		if p.Note != "" {
			fmt.Fprintf(stdout, "  note: %s\n", safetext.Visible(p.Note))
		}
	}
	for _, d := range plan.Dangers {
		fmt.Fprintf(stderr, "!!! %s\n", safetext.Visible(d))
	}
	if af.dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was changed")
		return nil
	}
	if len(plan.Dangers) > 0 && !af.force {
		return fail("%v", a.Disable(plan, false)) // refused, and recorded as such
	}
	if !af.yes && !confirm(stdout, "Make these changes? [y/N] ") {
		return fail("not confirmed: nothing was changed (use --yes in scripts)")
	}
	if err := a.Disable(plan, af.force); err != nil {
		return fail("%v", err)
	}
	for _, p := range plan.Services {
		fmt.Fprintf(stdout, "disabled %s\n", safetext.Visible(p.String()))
	}
	return nil
}
