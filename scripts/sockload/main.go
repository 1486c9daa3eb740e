//go:build linux

// Command sockload holds a population of loopback sockets for benchmarks:
// N established connections (both ends held) over P worker processes.
// It prints one line "ready: {json}" once every connection is up, and stops
// its workers on SIGTERM or SIGINT.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

func main() {
	sockettest.RunIfChild()
	var cfg sockettest.Config
	flag.IntVar(&cfg.Conns, "conns", 10000, "established connections (2 sockets each)")
	flag.IntVar(&cfg.Procs, "procs", 100, "worker processes")
	flag.Float64Var(&cfg.V6, "v6", 0.25, "fraction of connections over ::1")
	flag.IntVar(&cfg.UDP, "udp", 1, "bound UDP sockets per worker")
	flag.Parse()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	pop, err := sockettest.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockload:", err)
		os.Exit(1)
	}
	ready, _ := json.Marshal(map[string]any{
		"total":         pop.Sockets,
		"worker_pids":   pop.PIDs(),
		"setup_seconds": pop.Setup.Seconds(),
	})
	fmt.Printf("ready: %s\n", ready)
	<-stop
	pop.Close()
}
