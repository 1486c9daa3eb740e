// Command portwarden shows every listening port and live connection with
// the process that owns it, and says which ones should not be there.
//
//	portwarden                        the live dashboard
//	portwarden snapshot [--json]      the same, once, for scripts
//	portwarden check                  exit 1 when something is unexpected
//	portwarden report                 a Markdown record of the open ports
//	portwarden baseline init|add|remove
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"github.com/portwarden/portwarden/services/atomicfile"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/ui"
	"github.com/portwarden/portwarden/ui/report"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // failed, or (check) something is unexpected
	exitUsage = 2 // bad usage, or (check) an error
)

const usage = `portwarden: see every listening port and connection, who owns it, and whether it should be there.

Usage:
  portwarden [--interval 2s]  the live dashboard (a table when stdout is not a terminal or TERM=dumb)
  portwarden snapshot [--json] [--listening] [--tcp] [--udp] [-4] [-6]
  portwarden check [--json] [--prometheus FILE]
                              exit 0 when all is expected, 1 when not (listed), 2 on error
  portwarden report           a Markdown document of the open ports
  portwarden baseline init    record today's listeners as expected
  portwarden baseline add --reason TEXT [--owner WHO] [--bind ADDR] [--process NAME] [--exe PATH] [tcp|udp/]PORT
  portwarden baseline remove [--bind ADDR] [--process NAME] [--exe PATH] [tcp|udp/]PORT

Every command takes --baseline PATH (default: ` + "%s" + `).
Run as root to see the owners of every socket.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		return cmdDashboard(args, stdout, stderr)
	}
	switch args[0] {
	case "snapshot":
		return cmdSnapshot(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "baseline":
		return cmdBaseline(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintf(stdout, usage, baseline.DefaultPath())
		return exitOK
	}
	fmt.Fprintf(stderr, "portwarden: unknown command %q\n\n", args[0])
	fmt.Fprintf(stderr, usage, baseline.DefaultPath())
	return exitUsage
}

// newFlags returns a subcommand's flag set with --baseline.
func newFlags(name, synopsis string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("baseline", baseline.DefaultPath(), "the baseline file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: portwarden %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs, path
}

// parse parses flags wherever they stand among the arguments, and returns
// the positional ones. ok is false after a usage error (already printed)
// or -h; code is then the exit code.
func parse(fs *flag.FlagSet, args []string, maxArgs int) (positional []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) > maxArgs {
		fmt.Fprintf(fs.Output(), "portwarden %s: unexpected argument %q\n", fs.Name(), positional[maxArgs])
		fs.Usage()
		return nil, exitUsage, false
	}
	return positional, exitOK, true
}

// inspection is one snapshot, judged.
type inspection struct {
	host     string
	snap     *sockets.Snapshot
	verdicts []verdict.Verdict
	base     *baseline.Baseline
}

// inspect collects and judges. A baseline that cannot be read is an error
// when strict (check, report, baseline); otherwise a warning, and the
// verdicts are made without it.
func inspect(q sockets.Query, baselinePath string, strict bool, stderr io.Writer) (*inspection, error) {
	base, err := baseline.Load(baselinePath)
	if err != nil {
		if strict {
			return nil, err
		}
		fmt.Fprintf(stderr, "portwarden: %v; judging without a baseline\n", err)
		base = &baseline.Baseline{Path: baselinePath}
	}
	cat, err := catalog.Load("/etc/services", "/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return nil, err
	}
	snap, err := sockets.NewCollector().Collect(q)
	if err != nil {
		return nil, err
	}
	report.Sort(snap.Sockets)
	ifs, _ := verdict.LocalInterfaces() // without names, interfaces show as addresses
	host, _ := os.Hostname()
	in := &inspection{host: host, snap: snap, base: base}
	in.verdicts = (&verdict.Assessor{Catalog: cat, Baseline: base, Interfaces: ifs}).Assess(snap)
	if !snap.Complete && os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "portwarden: some owners are unknown (?): run as root to see the process of every socket")
	}
	return in, nil
}

func cmdSnapshot(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("snapshot", "snapshot [--json] [--listening] [--tcp] [--udp] [-4] [-6] [--baseline PATH]", stderr)
	var q sockets.Query
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	fs.BoolVar(&q.ListeningOnly, "listening", false, "only TCP listeners and unconnected UDP sockets")
	fs.BoolVar(&q.TCP, "tcp", false, "TCP sockets (default: TCP and UDP)")
	fs.BoolVar(&q.UDP, "udp", false, "UDP sockets (default: TCP and UDP)")
	fs.BoolVar(&q.IPv4, "4", false, "IPv4 sockets (default: both versions)")
	fs.BoolVar(&q.IPv6, "6", false, "IPv6 sockets (default: both versions)")
	if _, code, ok := parse(fs, args, 0); !ok {
		return code
	}
	in, err := inspect(q, *path, false, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "portwarden: %v\n", err)
		return exitFail
	}
	if *asJSON {
		err = report.WriteJSON(stdout, in.host, in.snap, in.verdicts)
	} else {
		err = report.WriteTable(stdout, in.snap, in.verdicts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portwarden: write: %v\n", err)
		return exitFail
	}
	return exitOK
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("check", "check [--json] [--prometheus FILE] [--baseline PATH]", stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	prom := fs.String("prometheus", "", "also write node_exporter textfile metrics to `FILE` (atomically)")
	if _, code, ok := parse(fs, args, 0); !ok {
		return code
	}
	in, err := inspect(sockets.Query{}, *path, true, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "portwarden check: %v\n", err)
		return exitUsage
	}
	if *prom != "" {
		if err := atomicfile.Write(*prom, report.Prometheus(in.snap, in.verdicts)); err != nil {
			fmt.Fprintf(stderr, "portwarden check: %v\n", err)
			return exitUsage
		}
	}
	if *asJSON {
		err = report.WriteCheckJSON(stdout, in.host, in.snap, in.verdicts)
	} else {
		err = report.WriteCheck(stdout, in.snap, in.verdicts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portwarden check: write: %v\n", err)
		return exitUsage
	}
	if !in.base.Exists && !*asJSON {
		fmt.Fprintf(stderr, "portwarden check: no baseline at %s: record today's listeners with `portwarden baseline init`\n", in.base.Path)
	}
	if !verdict.Summarize(in.snap, in.verdicts).OK() {
		return exitFail
	}
	return exitOK
}

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("report", "report [--baseline PATH]", stderr)
	if _, code, ok := parse(fs, args, 0); !ok {
		return code
	}
	in, err := inspect(sockets.Query{ListeningOnly: true}, *path, true, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "portwarden report: %v\n", err)
		return exitFail
	}
	var unit func(*sockets.Process) string
	if origin.SystemdRunning() {
		unit = func(p *sockets.Process) string { return origin.Unit(p.Cgroup) }
	}
	err = report.WriteMarkdown(stdout, report.Audit{Host: in.host, Snapshot: in.snap, Verdicts: in.verdicts, Baseline: in.base, Unit: unit})
	if err != nil {
		fmt.Fprintf(stderr, "portwarden report: %v\n", err)
		return exitFail
	}
	return exitOK
}

func cmdBaseline(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Usage: portwarden baseline init|add|remove [flags]")
		return exitUsage
	}
	switch args[0] {
	case "init":
		return baselineInit(args[1:], stdout, stderr)
	case "add", "remove":
		return baselineEdit(args[0], args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "portwarden baseline: unknown command %q (want init, add or remove)\n", args[0])
	return exitUsage
}

func baselineInit(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("baseline init", "baseline init [--owner WHO] [--baseline PATH]", stderr)
	owner := fs.String("owner", currentUser(), "who vouches for these listeners")
	if _, code, ok := parse(fs, args, 0); !ok {
		return code
	}
	if _, err := os.Stat(*path); err == nil {
		fmt.Fprintf(stderr, "portwarden baseline init: %s exists; edit it, or use baseline add/remove\n", *path)
		return exitFail
	}
	in, err := inspect(sockets.Query{ListeningOnly: true}, *path, true, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "portwarden baseline init: %v\n", err)
		return exitFail
	}
	today := time.Now()
	seen := map[string]bool{}
	var entries []baseline.Entry
	for i := range in.snap.Sockets {
		s := &in.snap.Sockets[i]
		e := baseline.Entry{Proto: s.Proto.String(), Port: s.Local.Port(), Bind: s.Local.Addr().WithZone("").Unmap().String(),
			Reason: "present at init", Owner: *owner, Added: today}
		if len(s.Processes) > 0 {
			e.Process = s.Processes[0].Name
		}
		if !seen[e.Key()] {
			seen[e.Key()] = true
			entries = append(entries, e)
		}
	}
	if err := baseline.Add(*path, entries...); err != nil {
		fmt.Fprintf(stderr, "portwarden baseline init: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "recorded %d listeners in %s\n", len(entries), *path)
	return exitOK
}

func baselineEdit(verb string, args []string, stdout, stderr io.Writer) int {
	synopsis := "baseline " + verb + " [--bind ADDR] [--process NAME] [--exe PATH] [tcp|udp/]PORT"
	if verb == "add" {
		synopsis = "baseline add --reason TEXT [--owner WHO] [--bind ADDR] [--process NAME] [--exe PATH] [tcp|udp/]PORT"
	}
	fs, path := newFlags("baseline "+verb, synopsis, stderr)
	var e baseline.Entry
	fs.StringVar(&e.Bind, "bind", "", "only this local address")
	fs.StringVar(&e.Process, "process", "", "only this process name")
	fs.StringVar(&e.Exe, "exe", "", "only this executable path")
	if verb == "add" {
		fs.StringVar(&e.Reason, "reason", "", "why this listener is expected (required)")
		fs.StringVar(&e.Owner, "owner", currentUser(), "who is responsible for it")
	}
	pos, code, ok := parse(fs, args, 1)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	var err error
	if e.Proto, e.Port, err = parsePort(pos[0]); err != nil {
		fmt.Fprintf(stderr, "portwarden baseline %s: %v\n", verb, err)
		return exitUsage
	}
	if verb == "add" {
		if strings.TrimSpace(e.Reason) == "" {
			fmt.Fprintln(stderr, "portwarden baseline add: --reason is required: say why this port is open")
			return exitUsage
		}
		e.Added = time.Now()
		if err := baseline.Add(*path, e); err != nil {
			fmt.Fprintf(stderr, "portwarden baseline add: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "added %s to %s\n", e.Key(), *path)
		return exitOK
	}
	n, err := baseline.Remove(*path, func(x baseline.Entry) bool {
		return x.Proto == e.Proto && x.Port == e.Port &&
			(e.Bind == "" || x.Bind == e.Bind) && (e.Process == "" || x.Process == e.Process) && (e.Exe == "" || x.Exe == e.Exe)
	})
	if err != nil {
		fmt.Fprintf(stderr, "portwarden baseline remove: %v\n", err)
		return exitFail
	}
	if n == 0 {
		fmt.Fprintf(stderr, "portwarden baseline remove: no entry for %s in %s\n", e.Key(), *path)
		return exitFail
	}
	fmt.Fprintf(stdout, "removed %d entries for %s from %s\n", n, e.Key(), *path)
	return exitOK
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

// currentUser names the admin: the user behind sudo when there is one.
func currentUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

func cmdDashboard(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("", "[--interval DURATION] [--baseline PATH]", stderr)
	interval := fs.Duration("interval", 2*time.Second, "time between refreshes")
	if _, code, ok := parse(fs, args, 0); !ok {
		return code
	}
	if *interval < 100*time.Millisecond {
		fmt.Fprintln(stderr, "portwarden: --interval must be at least 100ms")
		return exitUsage
	}
	out, isFile := stdout.(*os.File)
	if !isFile || !term.IsTerminal(int(out.Fd())) || os.Getenv("TERM") == "dumb" {
		return cmdSnapshot([]string{"--baseline", *path}, stdout, stderr)
	}
	cat, err := catalog.Load("/etc/services", "/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		fmt.Fprintf(stderr, "portwarden: %v\n", err)
		return exitFail
	}
	host, _ := os.Hostname()
	b := &dashboardBackend{collector: sockets.NewCollector(), catalog: cat, baselinePath: *path}
	if trace := os.Getenv("PORTWARDEN_TRACE"); trace != "" {
		f, err := os.OpenFile(trace, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "portwarden: trace: %v\n", err)
			return exitFail
		}
		defer f.Close()
		b.trace = f
	}
	cfg := ui.Config{
		Host:     host,
		Root:     os.Geteuid() == 0,
		Interval: *interval,
		Color:    os.Getenv("NO_COLOR") == "",
	}
	if _, err := tea.NewProgram(ui.New(cfg, b), tea.WithOutput(out)).Run(); err != nil {
		fmt.Fprintf(stderr, "portwarden: %v\n", err)
		return exitFail
	}
	return exitOK
}

// dashboardBackend serves the dashboard: it collects, judges, and says how
// processes were started. The dashboard calls it only from tea.Cmds.
type dashboardBackend struct {
	collector    sockets.Collector
	catalog      *catalog.Catalog
	baselinePath string
	base         *baseline.Baseline // the last baseline that loaded
	trace        io.Writer          // PORTWARDEN_TRACE: a line per refresh
}

func (b *dashboardBackend) Inspect() (ui.Frame, error) {
	// Re-read the baseline every refresh: another portwarden, or the admin's
	// editor, may have changed it. A broken file keeps the last good one.
	var warning string
	if base, err := baseline.Load(b.baselinePath); err == nil {
		b.base = base
	} else {
		warning = err.Error()
		if b.base == nil {
			b.base = &baseline.Baseline{Path: b.baselinePath}
		}
	}
	start := time.Now()
	snap, err := b.collector.Collect(sockets.Query{})
	if err != nil {
		return ui.Frame{}, err
	}
	collected := time.Now()
	ifs, _ := verdict.LocalInterfaces()
	a := verdict.Assessor{Catalog: b.catalog, Baseline: b.base, Interfaces: ifs}
	f := ui.Frame{Snapshot: snap, Verdicts: a.Assess(snap), Warning: warning}
	if b.trace != nil {
		fmt.Fprintf(b.trace, "%s sockets=%d collect_ms=%.1f assess_ms=%.1f\n", start.Format(time.RFC3339Nano),
			len(snap.Sockets), collected.Sub(start).Seconds()*1000, time.Since(collected).Seconds()*1000)
	}
	return f, nil
}

func (b *dashboardBackend) Origin(p *sockets.Process) origin.Info {
	return origin.Describe("/proc", p.PID, p.PPID, p.Cgroup)
}

func (b *dashboardBackend) ExplainPort(port uint16) string { return b.catalog.ExplainClass(port) }
