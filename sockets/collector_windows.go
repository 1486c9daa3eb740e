package sockets

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/cakturk/go-netstat/netstat"
)

// WindowsCollector lists sockets with the system's owner-PID tables
// (GetTcpTable2, GetExtendedUdpTable) through github.com/cakturk/go-netstat.
// Windows has no socket inodes and gives process names only.
type WindowsCollector struct{}

// NewCollector returns the collector for this operating system.
func NewCollector() Collector { return WindowsCollector{} }

// Collect takes a snapshot of the sockets that q asks for.
func (WindowsCollector) Collect(q Query) (*Snapshot, error) {
	sources := []struct {
		proto Proto
		v6    bool
		list  func(netstat.AcceptFn) ([]netstat.SockTabEntry, error)
	}{
		{TCP, false, netstat.TCPSocks},
		{TCP, true, netstat.TCP6Socks},
		{UDP, false, netstat.UDPSocks},
		{UDP, true, netstat.UDP6Socks},
	}
	snap := &Snapshot{Time: time.Now(), Complete: true, Source: "iphlpapi"}
	procs := map[int]*Process{}
	for _, src := range sources {
		if (src.proto == TCP && !q.wantsTCP()) || (src.proto == UDP && !q.wantsUDP()) ||
			(src.v6 && !q.wants6()) || (!src.v6 && !q.wants4()) {
			continue
		}
		entries, err := src.list(netstat.NoopFilter)
		if err != nil {
			return nil, fmt.Errorf("list %s sockets: %w", src.proto, err)
		}
		for _, e := range entries {
			s := Socket{
				Proto:  src.proto,
				Local:  addrPort(e.LocalAddr, src.v6),
				Remote: addrPort(e.RemoteAddr, src.v6),
				State:  stateByName(e.State.String()),
				UID:    e.UID,
			}
			if src.proto == UDP {
				s.State = Close
			}
			if q.ListeningOnly && !s.Listening() {
				continue
			}
			if e.Process != nil {
				p, ok := procs[e.Process.Pid]
				if !ok {
					p = &Process{PID: e.Process.Pid, Name: e.Process.Name}
					procs[p.PID] = p
				}
				s.Processes = []*Process{p}
			} else {
				snap.Complete = false
			}
			snap.Sockets = append(snap.Sockets, s)
		}
	}
	slices.SortFunc(snap.Sockets, func(a, b Socket) int { return a.Local.Compare(b.Local) })
	return snap, nil
}

func addrPort(a *netstat.SockAddr, v6 bool) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ip := a.IP
	if !v6 {
		ip = ip.To4()
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		if v6 {
			addr = netip.IPv6Unspecified()
		} else {
			addr = netip.AddrFrom4([4]byte(net.IPv4zero.To4()))
		}
	}
	return netip.AddrPortFrom(addr, a.Port)
}

// stateByName maps kernel state names back to states.
func stateByName(name string) State {
	for i, n := range stateNames {
		if n == name {
			return State(i)
		}
	}
	return StateUnknown
}

// ReadCgroup returns "": Windows has no control groups.
func ReadCgroup(pid int) string { return "" }
