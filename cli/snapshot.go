package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

func snapshotCommand(g *globals) *cobra.Command {
	var (
		q      sockets.Query
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "snapshot [--json] [--listening] [--tcp] [--udp] [-4] [-6]",
		Short: "Print every socket once, as a table or JSON",
		Long: `Print every TCP and UDP socket, IPv4 and IPv6, with its owners, service and
verdict, as an aligned table or (--json) one JSON object. It judges without
the baseline when the baseline cannot be read, and says so.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return printSnapshot(cmd, g, q, asJSON) },
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of a table")
	f.BoolVar(&q.ListeningOnly, "listening", false, "only TCP listeners and unconnected UDP sockets")
	f.BoolVar(&q.TCP, "tcp", false, "TCP sockets (default: TCP and UDP)")
	f.BoolVar(&q.UDP, "udp", false, "UDP sockets (default: TCP and UDP)")
	f.BoolVarP(&q.IPv4, "ipv4", "4", false, "IPv4 sockets (default: both versions)")
	f.BoolVarP(&q.IPv6, "ipv6", "6", false, "IPv6 sockets (default: both versions)")
	return cmd
}

// printSnapshot prints one judged snapshot as a table or JSON.
func printSnapshot(cmd *cobra.Command, g *globals, q sockets.Query, asJSON bool) error {
	a, err := g.newApp(app.Options{})
	if err != nil {
		return broken(err)
	}
	in, err := inspect(cmd, a, q)
	if err != nil {
		return err
	}
	if in.BaselineErr != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "portwarden: %v; judging without a baseline\n", in.BaselineErr)
	}
	if !asJSON { // JSON carries its warnings itself
		for _, w := range in.Snapshot.Warnings {
			fmt.Fprintf(cmd.ErrOrStderr(), "portwarden: warning: %s\n", safetext.Visible(w))
		}
	}
	out := cmd.OutOrStdout()
	if asJSON {
		err = report.WriteJSON(out, in.Host, in.Snapshot, in.Judged, portless(in), in.Containers)
	} else {
		err = report.WriteTable(out, in.Snapshot, in.Judged, portless(in), in.Containers, terminalWidth(out))
	}
	if err != nil {
		return broken(fmt.Errorf("write: %w", err))
	}
	return nil
}

// inspect collects and judges, sorted for display, and says once on
// stderr when an ordinary user cannot see every owner.
func inspect(cmd *cobra.Command, a *app.App, q sockets.Query) (*app.Inspection, error) {
	in, err := a.Inspect(q)
	if errors.Is(err, sockets.ErrNoNamespace) {
		return nil, badUsage("--netns: %v", err)
	} else if err != nil {
		return nil, broken(err)
	}
	report.Sort(in.Judged)
	// A one-shot command can wait a moment for container names.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	a.WaitContainers(ctx, in)
	if !in.Snapshot.Complete && os.Geteuid() != 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "portwarden: some owners are unknown (?): run as root to see the process of every socket")
	}
	return in, nil
}

// inspectJudged opens the app and inspects with a baseline that must be
// readable: commands that judge against it (check, report, baseline init)
// stop with exit 2 when it is not.
func inspectJudged(cmd *cobra.Command, g *globals, q sockets.Query) (*app.App, *app.Inspection, error) {
	a, err := g.newApp(app.Options{})
	if err != nil {
		return nil, nil, broken(err)
	}
	in, err := inspect(cmd, a, q)
	if err != nil {
		return nil, nil, err
	}
	if in.BaselineErr != nil {
		return nil, nil, broken(in.BaselineErr)
	}
	return a, in, nil
}

// terminalWidth is the width to print a table in: the terminal's when out
// is one, else $COLUMNS when set (a pipe, TERM=dumb), else 0 (no limit).
func terminalWidth(out io.Writer) int {
	if f, ok := out.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// portless is what an inspection found receiving without a port, for the
// reports.
func portless(in *app.Inspection) report.Portless {
	return report.Portless{Raw: in.Raw, Programs: in.Programs}
}
