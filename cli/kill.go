package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/sockets"
)

// actionFlags are the flags every action command takes.
type actionFlags struct {
	yes, dryRun, force, all, readOnly bool
}

func (af *actionFlags) register(cmd *cobra.Command, what, forceWhat string) {
	f := cmd.Flags()
	f.BoolVar(&af.yes, "yes", false, "do not ask for confirmation")
	f.BoolVar(&af.dryRun, "dry-run", false, "show what would be done, do nothing")
	f.BoolVar(&af.force, "force", false, "also "+forceWhat+" your own session depends on (its sshd); --yes is not enough")
	f.BoolVar(&af.all, "all", false, "act on every "+what+" the target matches")
	f.BoolVar(&af.readOnly, "read-only", false, "refuse every action")
}

func killCommand(g *globals) *cobra.Command {
	var (
		af      actionFlags
		sigName string
		wait    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "kill [--signal TERM|KILL] [--wait 5s] [--yes] [--dry-run] [--force] [--all] TARGET",
		Short: "Stop the process behind a socket, after showing exactly what it hits",
		Long: `Stop the process behind a socket. TARGET is a PID, tcp/PORT, udp/PORT, :PORT
(either protocol) or ADDR:PORT. portwarden shows the process, its command line,
the sockets it holds, who shares them and whether systemd or inetd would start
it again; asks [y/N] (no terminal means no: use --yes in scripts); signals it
through a pidfd, so a recycled PID is never hit; waits --wait for it to end;
and records the action in the audit log. Never PID 1, a kernel thread,
portwarden or its shell; the admin's own session needs --force.`,
		Args: oneTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := action.ParseSignal(sigName)
			if err != nil {
				return badUsage("--signal: %v", err)
			}
			return runKill(cmd, g, af, sig, wait, args[0])
		},
	}
	af.register(cmd, "process", "kill a process")
	cmd.Flags().StringVar(&sigName, "signal", "TERM", "TERM (ask it to stop) or KILL (stop it at once)")
	cmd.Flags().DurationVar(&wait, "wait", 5*time.Second, "how long to wait for the process to end")
	return cmd
}

func runKill(cmd *cobra.Command, g *globals, af actionFlags, sig syscall.Signal, wait time.Duration, arg string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if af.readOnly {
		return fail("refused: --read-only")
	}
	if err := action.CheckTarget(arg); err != nil {
		return badUsage("%v", err)
	}
	a, err := g.newApp(app.Options{KillWait: wait})
	if err != nil {
		return broken(err)
	}
	in, err := inspect(cmd, a, sockets.Query{})
	if err != nil {
		return err
	}
	targets, err := a.KillTargets(in.Snapshot, arg)
	if errors.Is(err, action.ErrAmbiguous) && !af.all {
		fmt.Fprintf(stderr, "portwarden kill: %s is held by %d processes; name one by PID, or use --all:\n", arg, len(targets))
		for _, t := range targets {
			fmt.Fprintf(stderr, "  %d  %s (parent %d): %s\n", t.PID, safetext.Visible(t.Name), t.PPID, safetext.Visible(strings.Join(t.Cmdline, " ")))
		}
		return silent(ExitFail)
	} else if err != nil && !errors.Is(err, action.ErrAmbiguous) {
		return fail("%v", err)
	}
	var plans []*app.KillPlan
	for _, t := range targets {
		p := a.PlanKill(in.Snapshot, t, sig)
		if p.Refused == nil {
			describeKill(stdout, p)
		}
		if p.Danger != "" {
			fmt.Fprintf(stdout, "\n  !!! %s\n\n", p.Danger)
		}
		plans = append(plans, p)
	}
	for _, p := range plans {
		refused := p.Refused
		if refused == nil && p.Danger != "" && !af.force {
			refused = app.ErrOwnSession
		}
		switch {
		case refused == nil:
		case af.dryRun:
			return fail("%s: dry run: a real run would refuse this: %v", safetext.Visible(p.Target.String()), refused)
		default:
			_, err := a.Kill(p, false) // refused, and recorded as such
			return fail("%s: %v", safetext.Visible(p.Target.String()), err)
		}
	}
	if af.dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was sent")
		return nil
	}
	question := fmt.Sprintf("Send %s to %s? [y/N] ", action.SignalName(sig), safetext.Count(len(plans), "process", "processes"))
	if !af.yes && !confirm(stdout, question) {
		return fail("not confirmed: nothing was sent (use --yes in scripts)")
	}
	var failed bool
	for _, p := range plans {
		ended, err := a.Kill(p, af.force)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "portwarden kill: %s: %v\n", p.Target, err)
			failed = true
		case ended:
			fmt.Fprintf(stdout, "%s has ended\n", p.Target)
		default:
			fmt.Fprintf(stderr, "portwarden kill: %s is still running %s after %s; to stop it at once: portwarden kill --signal KILL %d\n",
				p.Target, wait, action.SignalName(sig), p.Target.PID)
			failed = true
		}
	}
	if failed {
		return silent(ExitFail)
	}
	return nil
}

// describeKill shows exactly what a kill will hit: the process, the
// sockets it holds, who else shares them, and whether it will come back.
func describeKill(w io.Writer, p *app.KillPlan) {
	t := p.Target
	fmt.Fprintf(w, "%s to %s\n", action.SignalName(p.Signal), safetext.Visible(t.String()))
	fmt.Fprintf(w, "  exe      %s\n  command  %s\n", safetext.Visible(t.Exe), safetext.Visible(strings.Join(t.Cmdline, " ")))
	if c := p.Container; c != nil {
		fmt.Fprintf(w, "  container %s (%s %s, image %s, restart policy %s)\n", safetext.Visible(c.Label()), c.Runtime, c.Short(),
			orUnknown(safetext.Visible(c.Image)), orUnknown(c.Restart))
	}
	for _, s := range p.Holding.Sockets {
		remote := ""
		if !s.Listening() {
			remote = "↔ " + s.Remote.String()
		}
		fmt.Fprintf(w, "  holds    %s %s %s %s\n", s.Proto, s.Local, s.StateName(), remote)
	}
	if n := len(p.Holding.Sharers); n > 0 {
		fmt.Fprintf(w, "  shared   %s hold these sockets too and keep them open\n", safetext.Count(n, "other process", "other processes"))
	}
	if p.ComesBack != "" {
		fmt.Fprintf(w, "  note     %s\n", safetext.Visible(p.ComesBack))
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
