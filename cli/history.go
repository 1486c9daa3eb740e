package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/traffic"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

type historyFlags struct {
	db, since, until, port, peer, process string
	sort                                  string
	pid                                   int
	listeners, connections, external      bool
	asJSON, stats                         bool
	goneNetNS                             string // a --netns name that names no namespace now
}

func historyCommand(g *globals) *cobra.Command {
	var h historyFlags
	cmd := &cobra.Command{
		Use:   "history [--db PATH] [--since 1h|RFC3339] [--until …] [--port [tcp|udp/]PORT] [--peer ADDR|PREFIX] [--pid N] [--process NAME] [--listeners] [--connections] [--external] [--sort first-seen|bytes|rx|tx] [--json] [--stats]",
		Short: "Show what listened and who connected, from the recorder's history",
		Long: `Print the connections and listeners the recorder (portwarden record) saw,
oldest first: when each was first and last seen, both ends, direction,
process. --port matches the listening side's port: a listener's, an inbound
connection's local port, an outbound connection's remote one. --json prints
JSON Lines, one object per lifetime. RX and TX are what a TCP connection
carried, as the kernel counted it when it closed ("-" where not counted:
UDP, polled, still open); --sort bytes, rx or tx puts the most first.
--stats describes the record: events,
events the kernel dropped (lost), how it was recorded, its span and size.
What polling recorded (source "poll") may miss what lived shorter than the
recorder's interval.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runHistory(cmd, g, &h) },
	}
	f := cmd.Flags()
	f.StringVar(&h.db, "db", history.DefaultPath, "the history database")
	f.StringVar(&h.since, "since", "24h", "from this long ago (1h, 7d) or this time (RFC 3339); \"all\" for everything")
	f.StringVar(&h.until, "until", "", "up to this long ago or this time (default: now)")
	f.StringVar(&h.port, "port", "", "the listening side's port, optionally with a protocol (tcp/22)")
	f.StringVar(&h.peer, "peer", "", "the remote address, or a network in CIDR form")
	f.IntVar(&h.pid, "pid", 0, "the process ID")
	f.StringVar(&h.process, "process", "", "the process's short name (comm), exactly")
	f.BoolVar(&h.listeners, "listeners", false, "listeners only")
	f.BoolVar(&h.connections, "connections", false, "connections only")
	f.BoolVar(&h.external, "external", false, "connections with an external peer only")
	f.BoolVar(&h.asJSON, "json", false, "JSON Lines: one object per lifetime")
	f.BoolVar(&h.stats, "stats", false, "describe the record instead")
	f.StringVar(&h.sort, "sort", "first-seen", "first-seen, or the most bytes first: bytes (received and sent), rx, tx")
	return cmd
}

func runHistory(cmd *cobra.Command, g *globals, h *historyFlags) error {
	filter, err := h.filter(g, time.Now())
	if err != nil {
		return err
	}
	if !slices.Contains(historySorts, h.sort) {
		return broken(fmt.Errorf("--sort %s: one of %s", h.sort, strings.Join(historySorts, ", ")))
	}
	if _, err := os.Stat(h.db); errors.Is(err, os.ErrNotExist) {
		return broken(fmt.Errorf("history: %s does not exist: is the recorder running (portwarden record, or portwarden-record.service)?", h.db))
	}
	db, err := history.Open(h.db, false)
	if err != nil {
		return broken(err)
	}
	defer db.Close()
	if h.goneNetNS != "" {
		if known, err := db.HasNamespaceName(h.goneNetNS); err != nil || !known {
			return broken(errors.Join(err, fmt.Errorf("--netns %s: no network namespace is named so now, and the record holds none by that name", h.goneNetNS)))
		}
	}
	out := cmd.OutOrStdout()
	if h.stats {
		return printHistoryStats(out, db, h.asJSON)
	}
	source, err := db.Source() // not Stats: it counts every lifetime
	if err != nil {
		return broken(err)
	}
	if source == history.Poll && !h.asJSON {
		fmt.Fprintln(cmd.ErrOrStderr(), "portwarden: this record was made by polling: connections shorter than the recorder's interval may be missing")
	}
	if h.asJSON {
		enc := json.NewEncoder(out)
		err = queryLifetimes(db, filter, h.sort, func(l *history.Lifetime) error { return enc.Encode(lifetimeJSON(l)) })
	} else {
		err = writeHistoryTable(out, db, filter, h.sort)
	}
	if err != nil {
		return broken(err)
	}
	gaps, err := db.Gaps(filter.Since, filter.Until, time.Now(), history.LockHolder(h.db) != "")
	if err != nil {
		return broken(err)
	}
	for _, g := range gaps { // the blind spells in the window: what came and went then is not here
		fmt.Fprintln(cmd.ErrOrStderr(), "portwarden: "+g.String())
	}
	return nil
}

// errGoneNamespace says a --netns name names no namespace now: the record
// must hold one by that name.
var errGoneNamespace = errors.New("no namespace by that name now")

// recordedNamespaces keeps the lifetimes of the namespaces --netns picks:
// by inode, as the record keeps them, a name resolved to the namespace it
// names now — or, when it names none now, matched against the name the
// recorder wrote — and an inode given as a number as it is.
func recordedNamespaces(netns string) (func(*history.Lifetime) bool, error) {
	picked := map[uint64]bool{}
	if n, err := strconv.ParseUint(netns, 10, 64); err == nil {
		picked[n] = true
	} else {
		snap, err := sockets.NewCollector().Collect(sockets.Query{NetNS: sockets.NetNSFilter(netns), ListeningOnly: true})
		if errors.Is(err, sockets.ErrNoNamespace) && netns != "host" && netns != "self" {
			// Gone since, perhaps: the name the recorder wrote beside it
			// (checked against the record once it is open).
			return func(l *history.Lifetime) bool { return l.Owner.NetNSName == netns }, errGoneNamespace
		}
		if err != nil {
			return nil, broken(fmt.Errorf("--netns %s: %w", netns, err))
		}
		for _, ns := range snap.Namespaces {
			picked[ns.Inode] = true
		}
	}
	return func(l *history.Lifetime) bool { return picked[l.Owner.NetNS] }, nil
}

// filter turns the flags into a query.
func (h *historyFlags) filter(g *globals, now time.Time) (history.Filter, error) {
	var f history.Filter
	var err error
	if h.since != "all" {
		if f.Since, err = parseWhen(h.since, now); err != nil {
			return f, badUsage("--since: %v", err)
		}
	}
	if h.until != "" {
		if f.Until, err = parseWhen(h.until, now); err != nil {
			return f, badUsage("--until: %v", err)
		}
	}
	if h.port != "" {
		if f.Proto, f.Port, err = parseAnyProtoPort(h.port); err != nil {
			return f, badUsage("--port: %v", err)
		}
	}
	if h.peer != "" {
		if f.Peer, err = block.ParsePeer(h.peer); err != nil {
			return f, badUsage("--peer: %v", err)
		}
	}
	f.PID, f.Process = h.pid, h.process
	switch {
	case h.listeners && h.connections:
	case h.listeners:
		f.Kind = history.Listener
	case h.connections || h.external:
		f.Kind = history.Connection
	}
	if g.netns != "" && g.netns != "all" {
		in, err := recordedNamespaces(g.netns)
		switch {
		case errors.Is(err, errGoneNamespace):
			h.goneNetNS = g.netns
		case err != nil:
			return f, err
		}
		f.Keep = in
	}
	if h.external {
		internal, err := g.internalNetworks()
		if err != nil {
			return f, err
		}
		if base, err := baseline.Load(g.baselinePath); err == nil {
			internal = append(internal, base.Internal...)
		}
		inNS := f.Keep
		f.Keep = func(l *history.Lifetime) bool {
			return (inNS == nil || inNS(l)) && verdict.ClassifyPeer(l.Local.Addr(), l.Remote.Addr(), internal) == verdict.PeerExternal
		}
	}
	return f, nil
}

// parseWhen reads a time (RFC 3339) or an age before now (1h, 7d).
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	age, err := parseAge(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want an age (1h, 7d) or a time (2026-12-03T03:14:00Z)", s)
	}
	return now.Add(-age), nil
}

// lifetimeJSONLine is one line of history --json.
type lifetimeJSONLine struct {
	Kind       string `json:"kind"`
	Proto      string `json:"proto"`
	LocalAddr  string `json:"local_addr"`
	LocalPort  uint16 `json:"local_port"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	RemotePort uint16 `json:"remote_port,omitempty"`
	Direction  string `json:"direction,omitempty"`
	PID        int    `json:"pid,omitempty"`
	Process    string `json:"process,omitempty"`
	Exe        string `json:"exe,omitempty"`
	User       string `json:"user,omitempty"`
	Unit       string `json:"unit,omitempty"`
	Container  string `json:"container,omitempty"`
	NetNS      uint64 `json:"netns,omitempty"`
	NetNSName  string `json:"netns_name,omitempty"`
	FirstSeen  string `json:"first_seen"`
	LastSeen   string `json:"last_seen"`
	Open       bool   `json:"open"`
	Source     string `json:"source"`
	// RxBytes and TxBytes are what a TCP connection carried, as the
	// kernel counted it when it closed; null where not counted.
	RxBytes *uint64 `json:"rx_bytes"`
	TxBytes *uint64 `json:"tx_bytes"`
}

func lifetimeJSON(l *history.Lifetime) lifetimeJSONLine {
	j := lifetimeJSONLine{
		Kind: l.Kind.String(), Proto: l.Proto.String(),
		LocalAddr: l.Local.Addr().String(), LocalPort: l.Local.Port(),
		Direction: l.Direction.String(),
		PID:       l.Owner.PID, Process: l.Owner.Process, Exe: l.Owner.Exe, User: l.Owner.User,
		Unit: l.Owner.Unit, Container: l.Owner.Container, NetNS: l.Owner.NetNS, NetNSName: l.Owner.NetNSName,
		FirstSeen: l.FirstSeen.UTC().Format(time.RFC3339Nano), LastSeen: l.LastSeen.UTC().Format(time.RFC3339Nano),
		Open: l.Open, Source: l.Source.String(),
	}
	if l.Kind == history.Connection {
		j.RemoteAddr, j.RemotePort = l.Remote.Addr().String(), l.Remote.Port()
	}
	if l.Counted {
		rx, tx := l.Bytes.Rx, l.Bytes.Tx
		j.RxBytes, j.TxBytes = &rx, &tx
	}
	return j
}

// queryLifetimes calls fn with each lifetime f picks, in the order --sort
// asks: first seen (as the record gives them), or the most bytes first
// (all read, then sorted).
func queryLifetimes(db *history.DB, f history.Filter, sortBy string, fn func(*history.Lifetime) error) error {
	if sortBy == "first-seen" {
		return db.Query(f, fn)
	}
	var all []history.Lifetime
	if err := db.Query(f, func(l *history.Lifetime) error { all = append(all, *l); return nil }); err != nil {
		return err
	}
	key := func(l *history.Lifetime) uint64 {
		switch sortBy {
		case "rx":
			return l.Bytes.Rx
		case "tx":
			return l.Bytes.Tx
		}
		return l.Bytes.Rx + l.Bytes.Tx
	}
	slices.SortStableFunc(all, func(a, b history.Lifetime) int { return cmp.Compare(key(&b), key(&a)) })
	for i := range all {
		if err := fn(&all[i]); err != nil {
			return err
		}
	}
	return nil
}

// historySorts are --sort's values.
var historySorts = []string{"first-seen", "bytes", "rx", "tx"}

func writeHistoryTable(out io.Writer, db *history.DB, f history.Filter, sortBy string) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIRST SEEN\tLASTED\tKIND\tPROTO\tLOCAL\tREMOTE\tDIR\tRX\tTX\tPID\tPROCESS\tUSER\tUNIT/CONTAINER\tNETNS\tSOURCE")
	n := 0
	err := queryLifetimes(db, f, sortBy, func(l *history.Lifetime) error {
		n++
		rx, tx := "-", "-"
		if l.Counted {
			rx, tx = traffic.Bytes(float64(l.Bytes.Rx)), traffic.Bytes(float64(l.Bytes.Tx))
		}
		lasted := l.LastSeen.Sub(l.FirstSeen).Round(time.Millisecond).String()
		if l.Open {
			lasted = "open"
		}
		remote, pid := "-", "?"
		if l.Kind == history.Connection {
			remote = l.Remote.String()
		}
		if l.Owner.PID != 0 {
			pid = strconv.Itoa(l.Owner.PID)
		}
		where := l.Owner.Unit
		if l.Owner.Container != "" {
			where = "container " + l.Owner.Container
		}
		netns := safetext.Visible(l.Owner.NetNSName)
		if netns == "" && l.Owner.NetNS != 0 {
			netns = strconv.FormatUint(l.Owner.NetNS, 10) // unnamed: its inode, as --netns takes it
		}
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			l.FirstSeen.Local().Format("2006-01-02 15:04:05.000"), lasted, l.Kind, l.Proto, l.Local, remote,
			dash(l.Direction.String()), rx, tx, pid, dash(safetext.Visible(l.Owner.Process)), dash(safetext.Visible(l.Owner.User)),
			dash(safetext.Visible(where)), dash(netns), l.Source)
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(tw, "(nothing recorded matches)")
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printHistoryStats(out io.Writer, db *history.DB, asJSON bool) error {
	s, err := db.Stats()
	if err != nil {
		return broken(err)
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	if asJSON {
		err = json.NewEncoder(out).Encode(map[string]any{
			"lifetimes": s.Lifetimes, "events": s.Events, "lost": s.Lost, "dropped": s.Dropped, "source": s.Source.String(),
			"gaps": len(s.Gaps), "gap_seconds": s.GapTime().Seconds(), "scans": s.Scans.String(),
			"unnamed_udp_probes": s.UnnamedUDP, "unnamed_tcp_resets": s.UnnamedResets,
			"oldest": when(s.Oldest), "newest": when(s.Newest), "last_commit": when(s.LastCommit), "db_bytes": s.Bytes,
		})
	} else {
		_, err = fmt.Fprintf(out, "lifetimes    %d\nevents       %d\nlost         %d (events the kernel dropped)\ndropped      %d (lifetimes given up on a full disk)\ngaps         %d (%s not recording)\nsource       %s\nscans        %s (%d UDP datagrams to closed ports and %d TCP resets counted without their sources)\noldest       %s\nnewest       %s\nlast commit  %s\nsize         %d bytes\n",
			s.Lifetimes, s.Events, s.Lost, s.Dropped, len(s.Gaps), s.GapTime().Round(time.Millisecond), s.Source, s.Scans, s.UnnamedUDP, s.UnnamedResets, dash(when(s.Oldest)), dash(when(s.Newest)), dash(when(s.LastCommit)), s.Bytes)
	}
	if err != nil {
		return broken(err)
	}
	return nil
}
