// Command connload makes short TCP connections on loopback, to load the
// flight recorder: each connection is dialled, accepted and closed by this
// process. With --udp, each "connection" is a UDP exchange instead: a new
// socket sends a datagram to an echo socket, reads the answer, and closes
// (a DNS query's shape). It prints one line of JSON when done:
//
//	{"port":P,"connections":N,"seconds":S,"per_second":R}
//
// --rate 0 connects as fast as --workers threads can; otherwise it paces
// the connections at that rate.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	conns := flag.Int("conns", 0, "stop after this many connections (0: after --seconds)")
	seconds := flag.Float64("seconds", 10, "stop after this long, when --conns is 0")
	rate := flag.Int("rate", 0, "connections per second (0: as fast as possible)")
	workers := flag.Int("workers", 4, "dialling threads")
	udp := flag.Bool("udp", false, "UDP exchanges instead of TCP connections")
	flag.Parse()

	network, addr, port := "tcp4", "", 0
	if *udp {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "connload:", err)
			os.Exit(1)
		}
		go func() {
			buf := make([]byte, 512)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		network, addr, port = "udp4", pc.LocalAddr().String(), pc.LocalAddr().(*net.UDPAddr).Port
	} else {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "connload:", err)
			os.Exit(1)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		addr, port = ln.Addr().String(), ln.Addr().(*net.TCPAddr).Port
	}
	var made atomic.Int64
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	done := func() bool {
		if *conns > 0 {
			return made.Load() >= int64(*conns)
		}
		return time.Now().After(deadline)
	}
	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(*rate))
		defer t.Stop()
		tick = t.C
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done() {
				if tick != nil {
					<-tick
				}
				if *conns > 0 && made.Add(1) > int64(*conns) {
					return
				} else if *conns == 0 {
					made.Add(1)
				}
				c, err := net.Dial(network, addr)
				if err != nil {
					fmt.Fprintln(os.Stderr, "connload:", err)
					os.Exit(1)
				}
				if *udp {
					c.SetDeadline(time.Now().Add(time.Second))
					c.Write([]byte("query"))
					c.Read(make([]byte, 16))
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	n := made.Load()
	if *conns > 0 && n > int64(*conns) {
		n = int64(*conns)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"port": port, "connections": n, "seconds": elapsed, "per_second": float64(n) / elapsed,
	})
}
