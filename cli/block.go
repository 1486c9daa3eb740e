package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/firewall/kernel"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

func blockCommand(g *globals) *cobra.Command {
	var (
		yes, dryRun, force, readOnly, closeToo bool
		duration                               time.Duration
		port                                   string
	)
	cmd := &cobra.Command{
		Use:   "block [--for 10m] [--port [tcp|udp/]PORT] [--close] [--yes] [--dry-run] [--force] ADDR|PREFIX",
		Short: "Drop a peer's packets for a while (0: until unblocked), in a table of portwarden's own",
		Long: `Drop every packet from a peer (an address or a prefix) to this host and to
what it forwards (containers), on every port or with --port on one. The block
lives in nftables table inet portwarden — never in your own tables — as an
element of a set with its own timeout: it ends by itself after --for (10m by
default; 0 keeps it until unblocked) and survives portwarden exiting. Open
connections with the peer are listed; --close (or answering yes) also cuts
them. Blocking what would cut someone off needs --force: the client of any
live SSH session (your own named loudly), the gateways and next hops, the DNS
resolvers, link-local ranges, loopback, this host's own addresses, and
0.0.0.0/0 or ::/0 (every address). Blocks are lost when the ruleset is
flushed (a reboot, nft flush ruleset, restarting nftables.service).
Recorded in the audit log.`,
		Args: oneTarget,
		RunE: func(cmd *cobra.Command, args []string) error {
			peer, err := block.ParsePeer(args[0])
			if err != nil {
				return badUsage("%v", err)
			}
			if duration < 0 {
				return badUsage("--for: a duration like 10m or 1h, or 0 for until unblocked")
			}
			blocks := []block.Block{{Peer: peer, For: duration}}
			if port != "" {
				if blocks, err = portBlocks(peer, duration, port); err != nil {
					return badUsage("--port: %v", err)
				}
			}
			return runBlock(cmd, g, blocks, yes, dryRun, force, closeToo, readOnly)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&duration, "for", 10*time.Minute, "how long the block holds (10m, 1h; 0: until unblocked)")
	f.StringVar(&port, "port", "", "block only this `[tcp|udp/]PORT` (both protocols when none is named)")
	f.BoolVar(&closeToo, "close", false, "also close the open connections with the peer")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be blocked, block nothing")
	f.BoolVar(&force, "force", false, "also block an SSH client, a gateway, a resolver, this host's addresses or every address; --yes is not enough")
	f.BoolVar(&readOnly, "read-only", false, "refuse every action")
	return cmd
}

// portBlocks reads --port: "tcp/22", "udp/53", or "22" for both.
func portBlocks(peer netip.Prefix, d time.Duration, arg string) ([]block.Block, error) {
	proto, port, err := parseAnyProtoPort(arg)
	if err != nil {
		return nil, err
	}
	protos := []sockets.Proto{sockets.TCP, sockets.UDP}
	if proto != 0 {
		protos = []sockets.Proto{proto}
	}
	var out []block.Block
	for _, p := range protos {
		out = append(out, block.Block{Peer: peer, Proto: p, Port: port, For: d})
	}
	return out, nil
}

// parseAnyProtoPort reads "tcp/22", "udp/53", or "22": any protocol (0).
func parseAnyProtoPort(arg string) (sockets.Proto, uint16, error) {
	var proto sockets.Proto
	if name, num, ok := strings.Cut(arg, "/"); ok {
		var err error
		if proto, err = sockets.ParseProto(name); err != nil {
			return 0, 0, err
		}
		arg = num
	}
	n, err := strconv.ParseUint(arg, 10, 16)
	if err != nil || n == 0 {
		return 0, 0, fmt.Errorf("%q is not a port (1-65535)", arg)
	}
	return proto, uint16(n), nil
}

func runBlock(cmd *cobra.Command, g *globals, blocks []block.Block, yes, dryRun, force, closeToo, readOnly bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	a, err := g.newApp(app.Options{ReadOnly: readOnly}) // a refusal is recorded too
	if err != nil {
		return broken(err)
	}
	in, err := inspect(cmd, a, sockets.Query{NetNS: "self"})
	if err != nil {
		return err
	}
	var plans []*app.BlockPlan
	for _, b := range blocks {
		p := a.PlanBlock(in.Snapshot, b)
		fmt.Fprintf(stdout, "block %s %s: new and open connections from it are dropped in input and forward\n", b, blockLength(b.For))
		printDangers(stdout, p.Dangers)
		plans = append(plans, p)
	}
	open := plans[0].Connections
	for _, p := range plans[1:] {
		open = append(open, p.Connections...)
	}
	if len(open) > 0 {
		describeClose(stdout, in.Snapshot, &app.ClosePlan{Connections: open})
	}
	refused := false
	for _, p := range plans {
		refused = refused || p.Refused != nil || len(p.Dangers) > 0 && !force
	}
	switch {
	case dryRun && refused:
		return fail("dry run: a real run would refuse this without --force")
	case dryRun:
		fmt.Fprintln(stdout, "dry run: nothing was blocked")
		return nil
	case !refused && !yes && !confirm(stdout, "Block it? [y/N] "):
		return fail("not confirmed: nothing was blocked (use --yes in scripts)")
	}
	for _, p := range plans {
		if err := a.Block(p, force); err != nil {
			fmt.Fprintf(stderr, "portwarden block: %v\n", err)
			return silent(failCode(err))
		}
		fmt.Fprintf(stdout, "blocked %s %s\n", p.Block, blockLength(p.Block.For))
	}
	if len(open) == 0 {
		return nil
	}
	question := fmt.Sprintf("Also close the %s open with it now? [y/N] ", safetext.Count(len(open), "connection", "connections"))
	if !closeToo && (yes || !confirm(stdout, question)) {
		fmt.Fprintf(stdout, "left %s open (their packets are dropped; portwarden close --peer cuts them)\n", safetext.Count(len(open), "connection", "connections"))
		return nil
	}
	cp := a.PlanClose(in.Snapshot, open)
	n, err := a.Close(in.Snapshot, cp, force)
	fmt.Fprintf(stdout, "closed %s\n", safetext.Count(n, "connection", "connections"))
	if err != nil {
		fmt.Fprintf(stderr, "portwarden block: close: %v\n", err)
		return silent(ExitFail)
	}
	return nil
}

func blockLength(d time.Duration) string {
	if d == 0 {
		return "until unblocked"
	}
	return "for " + d.String()
}

func unblockCommand(g *globals) *cobra.Command {
	var all, readOnly bool
	cmd := &cobra.Command{
		Use:   "unblock ADDR|PREFIX|--all",
		Short: "Lift a block (all: remove portwarden's table)",
		Long: `Lift the blocks of a peer, as it was named to block (every port and single
ports alike), or with --all every block, removing table inet portwarden.
Recorded in the audit log.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all != (len(args) == 0) || len(args) > 1 {
				return badUsage("name one peer, or --all")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var peer netip.Prefix
			if !all {
				var err error
				if peer, err = block.ParsePeer(args[0]); err != nil {
					return badUsage("%v", err)
				}
			}
			a, err := g.newApp(app.Options{ReadOnly: readOnly}) // a refusal is recorded too
			if err != nil {
				return broken(err)
			}
			n, err := a.Unblock(peer, all)
			if errors.Is(err, kernel.ErrNoPermission) {
				return broken(err)
			} else if err != nil {
				return fail("%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lifted %s\n", safetext.Count(n, "block", "blocks"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "lift every block and remove the table")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "refuse every action")
	return cmd
}

func blocksCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "blocks [--json]",
		Short: "List the peers blocked, and until when",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.newApp(app.Options{})
			if err != nil {
				return broken(err)
			}
			blocks, err := a.Blocks()
			if err != nil {
				return broken(err)
			}
			out, now := cmd.OutOrStdout(), time.Now()
			if asJSON {
				type jsonBlock struct {
					Peer    string `json:"peer"`
					Proto   string `json:"proto"` // "" for every port
					Port    uint16 `json:"port"`  // 0 for every port
					Seconds int64  `json:"seconds_left"`
					Expires string `json:"expires,omitempty"` // RFC 3339; none until unblocked
					Forever bool   `json:"until_unblocked"`
				}
				list := []jsonBlock{}
				for _, b := range blocks {
					jb := jsonBlock{Peer: block.PeerString(b.Peer), Proto: b.Proto.Name(), Port: b.Port,
						Seconds: int64(b.Left.Seconds()), Forever: b.For == 0}
					if b.For != 0 {
						jb.Expires = now.Add(b.Left).Format(time.RFC3339)
					}
					list = append(list, jb)
				}
				return json.NewEncoder(out).Encode(map[string]any{"blocks": list})
			}
			if len(blocks) == 0 {
				fmt.Fprintln(out, "nothing is blocked")
				return nil
			}
			for _, b := range blocks {
				fmt.Fprintf(out, "%-40s %s\n", b, b.UntilFrom(now))
			}
			fmt.Fprintln(out, "\nBlocks live in the kernel (nftables table inet portwarden): they end when they expire or are")
			fmt.Fprintln(out, "lifted, and are lost when the ruleset is flushed — a reboot, nft flush ruleset, or a restart of")
			fmt.Fprintln(out, "nftables.service. Keep a block for good in your own firewall configuration.")
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the blocks as JSON")
	return cmd
}
