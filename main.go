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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/atomicfile"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/ui"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/safetext"
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
  portwarden kill [--signal TERM|KILL] [--yes] [--dry-run] [--force] [--all] TARGET
  portwarden disable [--mask] [--yes] [--dry-run] [--force] [--all] TARGET
                              TARGET: a PID, tcp/PORT, udp/PORT, :PORT or ADDR:PORT

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
	case "kill":
		return cmdKill(args[1:], stdout, stderr)
	case "disable":
		return cmdDisable(args[1:], stdout, stderr)
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
	owner := fs.String("owner", audit.Admin(), "who vouches for these listeners")
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
		fs.StringVar(&e.Owner, "owner", audit.Admin(), "who is responsible for it")
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

func cmdDashboard(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("", "[--interval DURATION] [--baseline PATH]", stderr)
	interval := fs.Duration("interval", 2*time.Second, "time between refreshes")
	readOnly := fs.Bool("read-only", false, "hide and refuse every action (mark, kill)")
	auditPath := fs.String("audit-log", audit.DefaultPath(), "where actions are recorded")
	killWait := fs.Duration("kill-wait", 5*time.Second, "how long a kill waits for the process to end")
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
	b := &dashboardBackend{collector: sockets.NewCollector(), catalog: cat, baselinePath: *path,
		readOnly: *readOnly, audit: audit.Log{Path: *auditPath}, session: action.CurrentSession("/proc"), killWait: *killWait}
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
		ReadOnly: *readOnly,
		Admin:    audit.Admin(),
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
	last         *sockets.Snapshot  // for the own-session check

	readOnly bool
	audit    audit.Log
	session  action.Session
	killWait time.Duration
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
	b.last = snap
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

func (b *dashboardBackend) SocketUnits(s sockets.Socket) []string { return disable.SocketUnits(&s) }

var errReadOnly = errors.New("refused: portwarden runs with --read-only")

func (b *dashboardBackend) Mark(e baseline.Entry) error {
	if b.readOnly {
		return errReadOnly
	}
	err := baseline.Add(b.baselinePath, e)
	return b.record(audit.Record{Action: "mark", Detail: fmt.Sprintf("%s: %q, owner %s", e.Key(), e.Reason, e.Owner)}, err)
}

func (b *dashboardBackend) Unmark(e baseline.Entry) error {
	if b.readOnly {
		return errReadOnly
	}
	n, err := baseline.Remove(b.baselinePath, func(x baseline.Entry) bool { return x.Key() == e.Key() })
	if err == nil && n == 0 {
		err = fmt.Errorf("no entry %s in %s", e.Key(), b.baselinePath)
	}
	return b.record(audit.Record{Action: "unmark", Detail: e.Key()}, err)
}

func (b *dashboardBackend) PlanKill(t action.Target) (ui.KillPlan, error) {
	if b.readOnly {
		return ui.KillPlan{}, errReadOnly
	}
	danger, err := b.session.Check("/proc", t, b.last)
	if err != nil {
		return ui.KillPlan{}, b.record(audit.Record{Action: "kill", Target: auditProcess(t), Result: "refused"}, err)
	}
	return ui.KillPlan{Danger: danger, ComesBack: action.ComesBack(origin.Describe("/proc", t.PID, t.PPID, t.Cgroup))}, nil
}

func (b *dashboardBackend) Kill(t action.Target, sig syscall.Signal) (bool, error) {
	if b.readOnly {
		return false, errReadOnly
	}
	r := audit.Record{Action: "kill", Target: auditProcess(t), Detail: map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}[sig]}
	exit, err := action.Signal("/proc", t, sig)
	if err != nil {
		return false, b.record(r, err)
	}
	defer exit.Close()
	ended := exit.Wait(b.killWait)
	if !ended {
		r.Result = "still running"
	}
	return ended, b.record(r, nil)
}

func (b *dashboardBackend) PlanDisable(s sockets.Socket) (ui.DisablePlan, error) {
	if b.readOnly {
		return ui.DisablePlan{}, errReadOnly
	}
	p, err := disable.For(disable.Env{ProcRoot: "/proc", Services: "/etc/services"}, &s, disable.Disable)
	if err != nil {
		return ui.DisablePlan{}, err
	}
	return ui.DisablePlan{Plan: p, Danger: b.session.DisableDanger(&s)}, nil
}

func (b *dashboardBackend) RunDisable(p *disable.Plan) error {
	if b.readOnly {
		return errReadOnly
	}
	return b.record(disableRecord(p), p.Run())
}

// record appends an action to the audit log, done or failed with err, and
// returns err joined with any failure to record it: an action that could
// not be recorded is shown as such.
func (b *dashboardBackend) record(r audit.Record, err error) error {
	if r.Result == "" {
		r.Result = "done"
	}
	if err != nil {
		if r.Result == "done" {
			r.Result = "failed"
		}
		r.Error = err.Error()
	}
	return errors.Join(err, b.audit.Append(r))
}

// actionFlags are the flags every action command takes.
type actionFlags struct {
	yes, dryRun, all, readOnly *bool
	auditPath                  *string
}

func newActionFlags(fs *flag.FlagSet, what string) actionFlags {
	return actionFlags{
		yes:       fs.Bool("yes", false, "do not ask for confirmation"),
		dryRun:    fs.Bool("dry-run", false, "show what would be done, do nothing"),
		all:       fs.Bool("all", false, "act on every "+what+" the target matches"),
		readOnly:  fs.Bool("read-only", false, "refuse every action"),
		auditPath: fs.String("audit-log", audit.DefaultPath(), "where actions are recorded"),
	}
}

func cmdKill(args []string, stdout, stderr io.Writer) int {
	fs, _ := newFlags("kill", "kill [--signal TERM|KILL] [--wait 5s] [--yes] [--dry-run] [--force] [--all] TARGET", stderr)
	sigName := fs.String("signal", "TERM", "TERM (ask it to stop) or KILL (stop it at once)")
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for the process to end")
	force := fs.Bool("force", false, "also kill a process your own session depends on (its sshd); --yes is not enough")
	af := newActionFlags(fs, "process")
	yes, dryRun, all, readOnly, auditPath := af.yes, af.dryRun, af.all, af.readOnly, af.auditPath
	pos, code, ok := parse(fs, args, 1)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	var sig syscall.Signal
	switch strings.TrimPrefix(strings.ToUpper(*sigName), "SIG") {
	case "TERM", "15":
		sig = syscall.SIGTERM
	case "KILL", "9":
		sig = syscall.SIGKILL
	default:
		fmt.Fprintf(stderr, "portwarden kill: --signal %q: want TERM or KILL\n", *sigName)
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portwarden kill: "+format+"\n", a...)
		return exitFail
	}
	if *readOnly {
		return fail("refused: --read-only")
	}
	snap, err := sockets.NewCollector().Collect(sockets.Query{})
	if err != nil {
		return fail("%v", err)
	}
	targets, err := action.Resolve(snap, pos[0])
	if pid, perr := strconv.Atoi(pos[0]); perr == nil && err != nil {
		// A PID that holds no socket can still be named.
		t, terr := action.TargetFromProc("/proc", pid)
		if terr != nil {
			return fail("pid %d: %v", pid, terr)
		}
		targets, err = []action.Target{t}, nil
	}
	if errors.Is(err, action.ErrAmbiguous) && !*all {
		fmt.Fprintf(stderr, "portwarden kill: %s is held by %d processes; name one by PID, or use --all:\n", pos[0], len(targets))
		for _, t := range targets {
			fmt.Fprintf(stderr, "  %d  %s (parent %d): %s\n", t.PID, safetext.Visible(t.Name), t.PPID, safetext.Visible(strings.Join(t.Cmdline, " ")))
		}
		return exitFail
	} else if err != nil && !errors.Is(err, action.ErrAmbiguous) {
		return fail("%v", err)
	}

	log := audit.Log{Path: *auditPath}
	session := action.CurrentSession("/proc")
	record := func(t action.Target, result string, err error) {
		r := audit.Record{Action: "kill", Target: auditProcess(t), Detail: "SIG" + strings.TrimPrefix(strings.ToUpper(*sigName), "SIG"), Result: result}
		if err != nil {
			r.Error = err.Error()
		}
		if aerr := log.Append(r); aerr != nil {
			fmt.Fprintf(stderr, "portwarden kill: %v\n", aerr)
		}
	}
	for _, t := range targets {
		danger, err := session.Check("/proc", t, snap)
		if err != nil {
			if !*dryRun {
				record(t, "refused", err)
			}
			return fail("%s: %v", t, err)
		}
		describeKill(stdout, t, sig, snap)
		if danger != "" {
			fmt.Fprintf(stdout, "\n  !!! %s\n\n", danger)
			if !*force && !*dryRun {
				record(t, "refused", errors.New("own session: --force not given"))
				return fail("refused: this would cut your own session; if you mean it, add --force")
			}
		}
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was sent")
		return exitOK
	}
	if !*yes && !confirm(stdout, fmt.Sprintf("Send SIG%s to %d process(es)? [y/N] ", strings.TrimPrefix(strings.ToUpper(*sigName), "SIG"), len(targets))) {
		return fail("not confirmed: nothing was sent (use --yes in scripts)")
	}
	code = exitOK
	for _, t := range targets {
		exit, err := action.Signal("/proc", t, sig)
		if err != nil {
			record(t, "failed", err)
			fmt.Fprintf(stderr, "portwarden kill: %s: %v\n", t, err)
			code = exitFail
			continue
		}
		ended := exit.Wait(*wait)
		exit.Close()
		if ended {
			record(t, "done", nil)
			fmt.Fprintf(stdout, "%s has ended\n", t)
			continue
		}
		record(t, "still running", nil)
		fmt.Fprintf(stderr, "portwarden kill: %s is still running %s after SIG%s; to stop it at once: portwarden kill --signal KILL %d\n",
			t, *wait, strings.TrimPrefix(strings.ToUpper(*sigName), "SIG"), t.PID)
		code = exitFail
	}
	return code
}

// describeKill shows exactly what a kill will hit: the process, the
// sockets it holds, who else shares them, and whether it will come back.
func describeKill(w io.Writer, t action.Target, sig syscall.Signal, snap *sockets.Snapshot) {
	name := "SIGTERM"
	if sig == syscall.SIGKILL {
		name = "SIGKILL"
	}
	fmt.Fprintf(w, "%s to %s\n", name, safetext.Visible(t.String()))
	fmt.Fprintf(w, "  exe      %s\n  command  %s\n", safetext.Visible(t.Exe), safetext.Visible(strings.Join(t.Cmdline, " ")))
	sharers := map[int]bool{}
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		holds := false
		for _, p := range s.Processes {
			holds = holds || p.PID == t.PID
		}
		if !holds {
			continue
		}
		fmt.Fprintf(w, "  holds    %s %s %s %s\n", s.Proto, s.Local, s.StateName(), remoteOf(s))
		for _, p := range s.Processes {
			if p.PID != t.PID {
				sharers[p.PID] = true
			}
		}
	}
	if len(sharers) > 0 {
		fmt.Fprintf(w, "  shared   %d other processes hold these sockets too and keep them open\n", len(sharers))
	}
	if note := action.ComesBack(origin.Describe("/proc", t.PID, t.PPID, t.Cgroup)); note != "" {
		fmt.Fprintf(w, "  note     %s\n", note)
	}
}

func remoteOf(s *sockets.Socket) string {
	if s.Listening() {
		return ""
	}
	return "↔ " + s.Remote.String()
}

// confirm asks a yes/no question on the terminal; anything but y is no,
// and without a terminal the answer is no.
func confirm(stdout io.Writer, question string) bool {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return false
	}
	fmt.Fprint(stdout, question)
	var answer string
	fmt.Fscanln(os.Stdin, &answer)
	return strings.EqualFold(strings.TrimSpace(answer), "y") || strings.EqualFold(strings.TrimSpace(answer), "yes")
}

func auditProcess(t action.Target) *audit.Process {
	p := &audit.Process{PID: t.PID, StartTicks: t.StartTicks, Name: t.Name, Exe: t.Exe}
	if origin.SystemdRunning() {
		p.Unit = origin.Unit(t.Cgroup)
	}
	return p
}

func cmdDisable(args []string, stdout, stderr io.Writer) int {
	fs, _ := newFlags("disable", "disable [--mask] [--yes] [--dry-run] [--force] [--all] TARGET", stderr)
	mask := fs.Bool("mask", false, "mask a systemd unit instead of disabling it")
	force := fs.Bool("force", false, "also disable a service your own session depends on (its sshd); --yes is not enough")
	af := newActionFlags(fs, "service")
	yes, dryRun, all, readOnly, auditPath := af.yes, af.dryRun, af.all, af.readOnly, af.auditPath
	pos, code, ok := parse(fs, args, 1)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portwarden disable: "+format+"\n", a...)
		return exitFail
	}
	if *readOnly {
		return fail("refused: --read-only")
	}
	how := disable.Disable
	if *mask {
		how = disable.Mask
	}
	snap, err := sockets.NewCollector().Collect(sockets.Query{ListeningOnly: true})
	if err != nil {
		return fail("%v", err)
	}
	var socks []*sockets.Socket
	if pid, perr := strconv.Atoi(pos[0]); perr == nil {
		for i := range snap.Sockets {
			for _, p := range snap.Sockets[i].Processes {
				if p.PID == pid {
					socks = append(socks, &snap.Sockets[i])
				}
			}
		}
		if len(socks) == 0 {
			return fail("pid %d holds no listening socket", pid)
		}
	} else if socks, err = action.Listeners(snap, pos[0]); err != nil {
		return fail("%v", err)
	}

	env := disable.Env{ProcRoot: "/proc", Services: "/etc/services"}
	log := audit.Log{Path: *auditPath}
	session := action.CurrentSession("/proc")
	var plans []*disable.Plan
	var dangers []string
	seen := map[string]bool{}
	for _, s := range socks {
		plan, err := disable.For(env, s, how)
		if err != nil {
			return fail("%s %s: %v", s.Proto, s.Local, err)
		}
		if danger := session.DisableDanger(s); danger != "" && !slices.Contains(dangers, danger) {
			dangers = append(dangers, danger)
		}
		if key := plan.String() + " " + plan.Steps[0].Describe; !seen[key] {
			seen[key] = true
			plans = append(plans, plan)
		}
	}
	if len(plans) > 1 && !*all {
		fmt.Fprintf(stderr, "portwarden disable: %s is provided by %d services; name one, or use --all:\n", pos[0], len(plans))
		for _, p := range plans {
			fmt.Fprintf(stderr, "  %s\n", safetext.Visible(p.String()))
		}
		return exitFail
	}
	for _, p := range plans {
		fmt.Fprintf(stdout, "disable %s:\n", safetext.Visible(p.String()))
		for i, s := range p.Steps {
			fmt.Fprintf(stdout, "  %d. %s\n", i+1, safetext.Visible(s.Describe))
		}
		if p.Note != "" {
			fmt.Fprintf(stdout, "  note: %s\n", safetext.Visible(p.Note))
		}
	}
	for _, d := range dangers {
		fmt.Fprintf(stderr, "!!! %s\n", safetext.Visible(d))
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was changed")
		return exitOK
	}
	if len(dangers) > 0 && !*force {
		for _, p := range plans {
			r := disableRecord(p)
			r.Result, r.Error = "refused", "own session: --force not given"
			if err := log.Append(r); err != nil {
				fmt.Fprintf(stderr, "portwarden disable: %v\n", err)
			}
		}
		return fail("refused: this would cut your own session; if you mean it, add --force")
	}
	if !*yes && !confirm(stdout, "Make these changes? [y/N] ") {
		return fail("not confirmed: nothing was changed (use --yes in scripts)")
	}
	code = exitOK
	for _, p := range plans {
		r := disableRecord(p)
		r.Result = "done"
		if err := p.Run(); err != nil {
			r.Result, r.Error = "failed", err.Error()
			fmt.Fprintf(stderr, "portwarden disable: %v\n", err)
			code = exitFail
		} else {
			fmt.Fprintf(stdout, "disabled %s\n", safetext.Visible(p.String()))
		}
		if err := log.Append(r); err != nil {
			fmt.Fprintf(stderr, "portwarden disable: %v\n", err)
		}
	}
	return code
}

// disableRecord is the audit record of a disable plan: the process that
// held the socket, and every step.
func disableRecord(p *disable.Plan) audit.Record {
	return audit.Record{Action: "disable", Target: auditProcess(p.Holder), Detail: p.String() + ": " + stepsText(p)}
}

func stepsText(p *disable.Plan) string {
	var parts []string
	for _, s := range p.Steps {
		parts = append(parts, s.Describe)
	}
	return strings.Join(parts, "; ")
}
