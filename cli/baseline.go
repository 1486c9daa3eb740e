package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/sockets"
)

func baselineCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Record which listeners are expected",
		Long: `The baseline is the record of expected listeners: a TOML file, meant to be read
and edited by people. init records today's listeners; add and remove edit it
from scripts, keeping the rest of the text, comments included.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return badUsage("unknown command %q (want init, add or remove)", args[0])
			}
			return badUsage("want init, add or remove")
		},
		RunE: func(cmd *cobra.Command, args []string) error { return nil },
	}
	cmd.AddCommand(baselineInitCommand(g), baselineAddCommand(g), baselineRemoveCommand(g))
	return cmd
}

func baselineInitCommand(g *globals) *cobra.Command {
	var owner string
	cmd := &cobra.Command{
		Use:   "init [--owner WHO]",
		Short: "Record today's listeners as expected",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(g.baselinePath); err == nil {
				return fail("%s exists; edit it, or use baseline add/remove", g.baselinePath)
			}
			a, in, err := inspectJudged(cmd, g, sockets.Query{ListeningOnly: true})
			if err != nil {
				return err
			}
			n, err := a.InitBaseline(in, owner)
			if err != nil {
				return fail("%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "recorded %s in %s\n", safetext.Count(n, "listener", "listeners"), g.baselinePath)
			return nil
		},
	}
	cmd.Flags().StringVar(&owner, "owner", audit.Admin(), "who vouches for these listeners")
	return cmd
}

// entryFlags are the flags that narrow a baseline entry.
func entryFlags(cmd *cobra.Command, e *baseline.Entry) {
	f := cmd.Flags()
	f.StringVar(&e.Bind, "bind", "", "only this local address")
	f.StringVar(&e.Process, "process", "", "only this process name")
	f.StringVar(&e.Exe, "exe", "", "only this executable path")
	f.StringVar(&e.Container, "container", "", "only in the container of this name")
	f.StringVar(&e.Image, "image", "", "only in containers of this image")
}

// parseEntryPort fills in the entry's protocol and port from
// [tcp|udp/]PORT and checks the rest of it: a bad one is bad usage.
func parseEntryPort(e *baseline.Entry, arg string) error {
	var err error
	if e.Proto, e.Port, err = parsePort(arg); err != nil {
		return badUsage("%v", err)
	}
	if err := e.Validate(); err != nil {
		return badUsage("%v", err)
	}
	return nil
}

func baselineAddCommand(g *globals) *cobra.Command {
	var e baseline.Entry
	cmd := &cobra.Command{
		Use:   "add --reason TEXT [--owner WHO] [--bind ADDR] [--process NAME] [--exe PATH] [--container NAME] [--image IMAGE] [tcp|udp/]PORT",
		Short: "Document a listener as expected",
		Args:  oneTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseEntryPort(&e, args[0]); err != nil {
				return err
			}
			if strings.TrimSpace(e.Reason) == "" {
				return badUsage("--reason is required: say why this port is open")
			}
			e.Added = time.Now()
			a, err := g.newApp(app.Options{})
			if err != nil {
				return broken(err)
			}
			if err := a.Mark(e); errors.Is(err, baseline.ErrPresent) {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is already in %s; nothing written\n", e.Key(), g.baselinePath)
				return nil
			} else if err != nil {
				return fail("%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s to %s\n", e.Key(), g.baselinePath)
			return nil
		},
	}
	entryFlags(cmd, &e)
	cmd.Flags().StringVar(&e.Reason, "reason", "", "why this listener is expected (required)")
	cmd.Flags().StringVar(&e.Owner, "owner", audit.Admin(), "who is responsible for it")
	return cmd
}

func baselineRemoveCommand(g *globals) *cobra.Command {
	var e baseline.Entry
	cmd := &cobra.Command{
		Use:   "remove [--bind ADDR] [--process NAME] [--exe PATH] [--container NAME] [--image IMAGE] [tcp|udp/]PORT",
		Short: "Remove the entries for a listener",
		Args:  oneTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseEntryPort(&e, args[0]); err != nil {
				return err
			}
			a, err := g.newApp(app.Options{})
			if err != nil {
				return broken(err)
			}
			n, err := a.UnmarkMatching(e.Key(), func(x baseline.Entry) bool {
				return x.Proto == e.Proto && x.Port == e.Port &&
					(e.Bind == "" || x.Bind == e.Bind) && (e.Process == "" || x.Process == e.Process) && (e.Exe == "" || x.Exe == e.Exe) &&
					(e.Container == "" || x.Container == e.Container) && (e.Image == "" || x.Image == e.Image)
			})
			if err != nil {
				return fail("%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s for %s from %s\n", safetext.Count(n, "entry", "entries"), e.Key(), g.baselinePath)
			return nil
		},
	}
	entryFlags(cmd, &e)
	return cmd
}

// parsePort parses "tcp/22", "udp/53" or "22" (TCP).
func parsePort(s string) (proto string, port uint16, err error) {
	proto, num, found := strings.Cut(s, "/")
	if !found {
		proto, num = "tcp", s
	}
	if proto != "tcp" && proto != "udp" {
		return "", 0, fmt.Errorf("%q: protocol must be tcp or udp", s)
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("%q: port must be 1-65535", s)
	}
	return proto, uint16(n), nil
}
