// Command portwarden shows every listening port and live connection with
// the process that owns it, and says which ones should not be there.
//
//	portwarden                      the live dashboard (a table without a terminal)
//	portwarden snapshot [--json]    the sockets, once, for scripts
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/ui/report"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `portwarden: see every listening port and connection, and who owns it.

Usage:
  portwarden                 show the sockets (the dashboard comes in a later release)
  portwarden snapshot [--json] [--listening] [--tcp] [--udp] [-4] [-6]
                             print every TCP and UDP socket with its processes

Run as root to see the owners of every socket.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return snapshot(nil, stdout, stderr)
	}
	switch args[0] {
	case "snapshot":
		return snapshot(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "portwarden: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

func snapshot(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var q sockets.Query
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	fs.BoolVar(&q.ListeningOnly, "listening", false, "only TCP listeners and unconnected UDP sockets")
	fs.BoolVar(&q.TCP, "tcp", false, "TCP sockets (default: TCP and UDP)")
	fs.BoolVar(&q.UDP, "udp", false, "UDP sockets (default: TCP and UDP)")
	fs.BoolVar(&q.IPv4, "4", false, "IPv4 sockets (default: both versions)")
	fs.BoolVar(&q.IPv6, "6", false, "IPv6 sockets (default: both versions)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: portwarden snapshot [--json] [--listening] [--tcp] [--udp] [-4] [-6]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portwarden snapshot: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}

	snap, err := sockets.NewCollector().Collect(q)
	if err != nil {
		fmt.Fprintf(stderr, "portwarden: %v\n", err)
		return exitFail
	}
	report.Sort(snap.Sockets)
	if *asJSON {
		host, _ := os.Hostname()
		err = report.WriteJSON(stdout, host, snap)
	} else {
		err = report.WriteTable(stdout, snap)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portwarden: write: %v\n", err)
		return exitFail
	}
	if !snap.Complete && os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "portwarden: some owners are unknown (?): run as root to see the process of every socket")
	}
	return exitOK
}
