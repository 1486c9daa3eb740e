//go:build linux || windows

// Command gonetstat lists TCP and UDP sockets with their processes using
// github.com/cakturk/go-netstat, one line per socket. It is the peer that
// scripts/bench-snapshot.sh measures portwarden's own collector against.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/cakturk/go-netstat/netstat"
)

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, list := range []func(netstat.AcceptFn) ([]netstat.SockTabEntry, error){
		netstat.TCPSocks, netstat.TCP6Socks, netstat.UDPSocks, netstat.UDP6Socks,
	} {
		socks, err := list(netstat.NoopFilter)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gonetstat:", err)
			os.Exit(1)
		}
		for _, s := range socks {
			proc := "-"
			if s.Process != nil {
				proc = s.Process.String()
			}
			fmt.Fprintf(out, "%v\t%v\t%v\t%s\n", s.LocalAddr, s.RemoteAddr, s.State, proc)
		}
	}
}
