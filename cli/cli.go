// Package cli is portwarden's command line: one file per subcommand, each
// flag defined once, so usage, --help, shell completion and man pages come
// from the same definitions. Every command goes through the application
// layer (package app), as the dashboard does.
package cli

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/portwarden/portwarden/services/firewall/kernel"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/sockets"
)

// Exit codes, as README promises.
const (
	ExitOK    = 0
	ExitFail  = 1 // something was found (check), refused, or failed
	ExitUsage = 2 // bad usage, or an error that stopped the command
)

// exitError carries an exit code to Run. usage asks for the command's
// usage to be printed after the message.
type exitError struct {
	code  int
	err   error
	usage bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// fail ends a command with exit 1: refused, failed, or (check) found.
func fail(format string, a ...any) error {
	return &exitError{code: ExitFail, err: fmt.Errorf(format, a...)}
}

// broken ends a command with exit 2: an error that kept it from working.
func broken(err error) error { return &exitError{code: ExitUsage, err: err} }

// badUsage ends a command with exit 2 and its usage.
func badUsage(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...), usage: true}
}

// failCode is the exit code of an action that did not happen: 2 when the
// system refused portwarden (it lacks a capability), 1 otherwise.
func failCode(err error) int {
	if errors.Is(err, kernel.ErrNoPermission) {
		return ExitUsage
	}
	return ExitFail
}

// silent ends a command with a code, having said everything already.
func silent(code int) error { return &exitError{code: code} }

// globals are the flags every command takes.
type globals struct {
	baselinePath string
	auditPath    string
	netns        string
	internal     []string // --internal-networks
	bulkOutbound string   // --bulk-outbound
}

// newApp opens the application layer with the global flags.
func (g *globals) newApp(opts app.Options) (*app.App, error) {
	opts.BaselinePath, opts.AuditPath, opts.NetNS = g.baselinePath, g.auditPath, sockets.NetNSFilter(g.netns)
	var err error
	if opts.Internal, err = g.internalNetworks(); err != nil {
		return nil, err
	}
	bulk, err := parseBulkOutbound(g.bulkOutbound)
	if err != nil {
		return nil, badUsage("--bulk-outbound: %v", err)
	}
	opts.BulkOutbound = &bulk
	return app.New(opts)
}

// parseBulkOutbound reads --bulk-outbound: a size and a window
// ("100MiB/10m"), or "off".
func parseBulkOutbound(s string) (app.BulkOutbound, error) {
	if s == "off" {
		return app.BulkOutbound{}, nil
	}
	size, window, ok := strings.Cut(s, "/")
	if !ok {
		return app.BulkOutbound{}, fmt.Errorf("%q: want a size and a window, like 100MiB/10m, or off", s)
	}
	n, err := parseSize(size)
	if err != nil {
		return app.BulkOutbound{}, err
	}
	d, err := time.ParseDuration(window)
	if err != nil || d <= 0 || n <= 0 {
		return app.BulkOutbound{}, fmt.Errorf("%q: want a size and a window, like 100MiB/10m, or off", s)
	}
	return app.BulkOutbound{Bytes: uint64(n), Window: d}, nil
}

// internalNetworks reads --internal-networks.
func (g *globals) internalNetworks() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range g.internal {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, badUsage("--internal-networks: %q is not a network in CIDR form (like 192.0.2.0/24)", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Root returns the portwarden command with every subcommand.
func Root(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{}
	root := dashboardCommand(g)
	root.PersistentFlags().StringVar(&g.baselinePath, "baseline", baseline.DefaultPath(), "the baseline file")
	root.PersistentFlags().StringVar(&g.auditPath, "audit-log", audit.DefaultPath(), "where actions are recorded")
	configFlag(root)
	root.PersistentFlags().StringSliceVar(&g.internal, "internal-networks", nil, "networks whose peers are internal, besides the baseline's (CIDR, comma-separated)")
	root.PersistentFlags().StringVar(&g.bulkOutbound, "bulk-outbound", "100MiB/10m", "when a process sending to an external peer is a sign (bulk-outbound): a size and a window, or off")
	root.PersistentFlags().StringVar(&g.netns, "netns", "all", "the network namespaces to read: all, host, self (portwarden's own), a name (ip netns, Docker) or an inode")
	root.AddCommand(snapshotCommand(g), checkCommand(g), reportCommand(g), baselineCommand(g),
		killCommand(g), disableCommand(g), closeCommand(g), blockCommand(g), unblockCommand(g), blocksCommand(g),
		recordCommand(), historyCommand(g), peersCommand(g), versionCommand())
	root.Version = Version()
	root.SetVersionTemplate("{{.Version}}\n")
	// The Use lines already name their flags.
	for cmds := []*cobra.Command{root}; len(cmds) > 0; cmds = cmds[1:] {
		cmds[0].DisableFlagsInUseLine = true
		cmds = append(cmds, cmds[0].Commands()...)
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors, root.SilenceUsage = true, true
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: ExitUsage, err: err, usage: true}
	})
	return root
}

// Synopsis returns one usage line per runnable command, in the order
// --help lists them: the lines README's Usage section shows.
func Synopsis() []string {
	var lines []string
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.HasSubCommands() && !c.Hidden && c.Name() != "help" || c.Parent() == nil {
			line := c.CommandPath()
			if _, args, ok := strings.Cut(c.Use, " "); ok {
				line += " " + args
			}
			lines = append(lines, line)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(Root(io.Discard, io.Discard))
	return lines
}

// Run runs portwarden with args (without the program name) and returns
// its exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	root := Root(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// cobra's own: an unknown command or a wrong number of arguments.
		ee = &exitError{code: ExitUsage, err: err, usage: true}
	}
	if ee.err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), ee.err)
	}
	if ee.usage {
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, cmd.UsageString())
	}
	return ee.code
}

// Main runs portwarden with the process's arguments and exits.
func Main() { os.Exit(Run(os.Args[1:], os.Stdout, os.Stderr)) }

// noArgs accepts no positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return badUsage("unexpected argument %q", args[0])
	}
	return nil
}

// oneTarget accepts exactly one positional argument, the target.
func oneTarget(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return badUsage("want one TARGET, got %d arguments", len(args))
	}
	return nil
}
