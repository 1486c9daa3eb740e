package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

func closeCommand(g *globals) *cobra.Command {
	var (
		yes, dryRun, force, readOnly bool
		peer                         string
	)
	cmd := &cobra.Command{
		Use:   "close [--yes] [--dry-run] [--force] LOCAL-REMOTE|--peer ADDR",
		Short: "Cut one connection (or every connection with a peer), leaving its process running",
		Long: `Cut a connection without killing the process behind it: sshd, nginx or a
database keep serving everyone else. Name it as LOCAL-REMOTE
(198.51.100.1:22-198.51.100.7:45910, IPv6 in brackets), or every connection
with a peer by --peer ADDR. portwarden lists what will be cut, asks [y/N] (no
terminal means no: use --yes in scripts), destroys each socket with netlink
SOCK_DESTROY in its own network namespace (TCP peers get a reset), checks it
is gone and records it in the audit log. The request names the socket by
its kernel cookie: a connection that ended meanwhile is reported gone, and a
listener is never hit. The connection of any live SSH session needs --force
(your own is named loudly). To keep the peer from coming back, block it
(portwarden block).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if (peer == "") == (len(args) == 1) && len(args) <= 1 {
				return nil
			}
			return badUsage("name one connection as LOCAL-REMOTE, or a peer with --peer ADDR")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, byPeer := peer, true
			if peer == "" {
				target, byPeer = args[0], false
			}
			return runClose(cmd, g, target, byPeer, yes, dryRun, force, readOnly)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be cut, cut nothing")
	f.BoolVar(&force, "force", false, "also cut an SSH session's connection, your own included; --yes is not enough")
	f.BoolVar(&readOnly, "read-only", false, "refuse every action")
	f.StringVar(&peer, "peer", "", "cut every connection with this `ADDR`")
	return cmd
}

func runClose(cmd *cobra.Command, g *globals, target string, byPeer, yes, dryRun, force, readOnly bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	a, err := g.newApp(app.Options{ReadOnly: readOnly}) // a refusal is recorded too
	if err != nil {
		return broken(err)
	}
	in, err := inspect(cmd, a, sockets.Query{})
	if err != nil {
		return err
	}
	socks, err := app.CloseTargets(in.Snapshot, target, byPeer)
	var bad *app.BadTarget
	if errors.As(err, &bad) {
		return badUsage("%v", err)
	} else if err != nil {
		return fail("%v", err)
	}
	p := a.PlanClose(in.Snapshot, socks)
	describeClose(stdout, in.Snapshot, p)
	printDangers(stdout, p.Dangers)
	switch {
	case dryRun && len(p.Dangers) > 0 && !force:
		return fail("dry run: a real run would refuse this without --force")
	case dryRun:
		fmt.Fprintln(stdout, "dry run: nothing was cut")
		return nil
	case p.Refused == nil && (len(p.Dangers) == 0 || force) && !yes:
		question := fmt.Sprintf("Close %s? [y/N] ", safetext.Count(len(socks), "connection", "connections"))
		if !confirm(stdout, question) {
			return fail("not confirmed: nothing was cut (use --yes in scripts)")
		}
	}
	n, err := a.Close(in.Snapshot, p, force)
	if n > 0 {
		fmt.Fprintf(stdout, "closed %s\n", safetext.Count(n, "connection", "connections"))
	}
	if err != nil {
		fmt.Fprintf(stderr, "portwarden close: %v\n", err)
		return silent(ExitFail)
	}
	return nil
}

// printDangers sets each danger apart, loud enough to stop a reader.
func printDangers(w io.Writer, dangers []string) {
	if len(dangers) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, d := range dangers {
		fmt.Fprintf(w, "  !!! %s\n", safetext.Visible(d))
	}
	fmt.Fprintln(w)
}

// describeClose lists the connections a close will cut, with who holds
// them.
func describeClose(w io.Writer, snap *sockets.Snapshot, p *app.ClosePlan) {
	fmt.Fprintln(w, "close (the processes keep running):")
	for _, s := range p.Connections {
		who := "no process"
		if len(s.Processes) > 0 {
			var names []string
			for _, proc := range s.Processes {
				names = append(names, fmt.Sprintf("%s pid %d", safetext.Visible(proc.Name), proc.PID))
			}
			who = strings.Join(names, ", ")
		}
		fmt.Fprintf(w, "  %s %s %s  %s  (%s)\n", s.Proto, app.ConnectionID(s), s.StateName(), safetext.Visible(snap.Namespace(s.NetNS).Label()), who)
	}
}
