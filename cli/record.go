package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/recorder"
)

func recordCommand() *cobra.Command {
	var (
		dbPath, source, maxAge, maxSize string
		interval                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "record [--db PATH] [--source auto|ebpf|poll] [--max-age AGE] [--max-size SIZE]",
		Short: "Record every connection and listener into the history, until stopped",
		Long: `Run in the foreground and record the life of every TCP connection and every
TCP and UDP listener, in every network namespace, into an SQLite file:
open and close times, both ends, direction, process, user, unit, container.
TCP comes from the kernel's own events (eBPF), so a connection of a few
milliseconds is recorded; where eBPF cannot load (not root, an old kernel,
lockdown) the recorder polls with netlink every --interval instead and says
so: connections shorter than that may be missing. UDP is always polled.
Commits at least every --interval; retention removes what ended before
--max-age and the oldest past --max-size. On a full disk it goes on
recording: the oldest lifetimes make way, counted as dropped (history
--stats, portwarden_recorder_dropped_lifetimes_total), and the error is
said on stderr once a minute. Stop it with Ctrl-C or SIGTERM.
Packaged as portwarden-record.service (disabled).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ret history.Retention
			var err error
			if ret.MaxAge, err = parseAge(maxAge); err != nil {
				return badUsage("--max-age: %v", err)
			}
			if ret.MaxBytes, err = parseSize(maxSize); err != nil {
				return badUsage("--max-size: %v", err)
			}
			switch source {
			case "auto", "ebpf", "poll":
			default:
				return badUsage("--source: %q: want auto, ebpf or poll", source)
			}
			return runRecord(cmd, dbPath, recorder.Options{Retention: ret, Source: source, Interval: interval})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbPath, "db", history.DefaultPath, "the history database")
	f.StringVar(&source, "source", "auto", "auto (eBPF, else polling), ebpf (fail without it), or poll")
	f.DurationVar(&interval, "interval", time.Second, "how often to poll and commit")
	f.StringVar(&maxAge, "max-age", "14d", "remove lifetimes that ended longer ago (like 14d or 36h; 0 keeps all)")
	f.StringVar(&maxSize, "max-size", "512MiB", "remove the oldest past this size (like 512MiB or 2GiB; 0 for no bound)")
	return cmd
}

// recorderGCPercent is the recorder's garbage collection target (GOGC),
// unless the environment sets one.
const recorderGCPercent = 400

func runRecord(cmd *cobra.Command, dbPath string, o recorder.Options) error {
	if o.Interval <= 0 {
		return badUsage("--interval: must be positive")
	}
	db, err := history.Open(dbPath, true)
	if err != nil {
		return broken(err)
	}
	defer db.Close()
	out := cmd.OutOrStdout()
	o.DB = db
	errOut := cmd.ErrOrStderr()
	o.Status = func(line string) { fmt.Fprintf(out, "portwarden record: %s\n", line) }
	o.Errors = func(line string) { fmt.Fprintf(errOut, "portwarden record: %s\n", line) }
	if os.Getenv("GOGC") == "" {
		// A steady stream of short-lived garbage (events, rows) and a
		// small live heap: collecting a quarter as often costs ~15 MiB
		// and saves about a sixth of the recorder's CPU at 1,000
		// connections a second (docs/performance.md).
		debug.SetGCPercent(recorderGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := recorder.Run(ctx, o); err != nil {
		return broken(err)
	}
	fmt.Fprintln(out, "portwarden record: stopped; everything recorded is committed")
	return nil
}

// parseAge reads a Go duration or a number of days ("14d").
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of days (14d) or a duration (36h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a number of days (14d) or a duration (36h)", s)
	}
	return d, nil
}

// parseSize reads bytes with an optional unit: KiB, MiB, GiB (or KB, MB,
// GB, in powers of ten).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult, num := int64(1), s
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			mult, num = u.mult, n
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a size like 512MiB", s)
	}
	return n * mult, nil
}
