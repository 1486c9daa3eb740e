package sockets_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cakturk/go-netstat/netstat"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// rowKey is how the cross-checks compare a socket: protocol, state,
// endpoints and owning PIDs.
func rowKey(proto, state string, local, remote netip.AddrPort, pids []int) string {
	slices.Sort(pids)
	return fmt.Sprintf("%s %s %s %s %v", proto, state, local, remote, pids)
}

// ourRows returns the keys of the sockets held by any of pids.
func ourRows(snap *sockets.Snapshot, pids []int, withState bool) map[string]bool {
	rows := map[string]bool{}
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		owners := ownersIn(s, pids)
		if len(owners) == 0 {
			continue
		}
		state := ""
		if withState {
			state = s.StateName()
		}
		rows[rowKey(s.Proto.String(), state, s.Local, s.Remote, owners)] = true
	}
	return rows
}

func ownersIn(s *sockets.Socket, pids []int) []int {
	var out []int
	for _, p := range s.Processes {
		if slices.Contains(pids, p.PID) {
			out = append(out, p.PID)
		}
	}
	return out
}

var ssPID = regexp.MustCompile(`pid=(\d+)`)

// ssRows runs `ss -tuanpH` and returns the keys of the rows naming pids.
func ssRows(t *testing.T, pids []int) map[string]bool {
	t.Helper()
	out, err := exec.Command("ss", "-tuanpH").Output()
	if err != nil {
		t.Fatalf("ss -tuanpH: %v", err)
	}
	rows := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		var owners []int
		for _, m := range ssPID.FindAllStringSubmatch(strings.Join(f[6:], " "), -1) {
			pid, _ := strconv.Atoi(m[1])
			if slices.Contains(pids, pid) && !slices.Contains(owners, pid) {
				owners = append(owners, pid)
			}
		}
		if len(owners) == 0 {
			continue
		}
		local, err1 := parseSSAddr(f[4])
		remote, err2 := parseSSAddr(f[5])
		if err1 != nil || err2 != nil {
			t.Fatalf("cannot parse ss line %q: %v %v", line, err1, err2)
		}
		rows[rowKey(f[0], ssState(f[1]), local, remote, owners)] = true
	}
	return rows
}

// parseSSAddr parses ss's "127.0.0.1:80", "[::1]:80", "0.0.0.0:*",
// "*:*" and "127.0.0.53%lo:53".
func parseSSAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	host, port := s[:i], s[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if pct := strings.IndexByte(host, '%'); pct >= 0 {
		host = host[:pct]
	}
	if host == "*" {
		host = "0.0.0.0"
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p := 0
	if port != "*" {
		if p, err = strconv.Atoi(port); err != nil {
			return netip.AddrPort{}, err
		}
	}
	return netip.AddrPortFrom(addr, uint16(p)), nil
}

func ssState(s string) string {
	if s == "ESTAB" {
		return "ESTABLISHED"
	}
	return strings.ReplaceAll(s, "-", "_")
}

func startPopulation(t *testing.T, cfg sockettest.Config) *sockettest.Population {
	t.Helper()
	pop, err := sockettest.Start(cfg)
	if err != nil {
		t.Fatalf("start population: %v", err)
	}
	t.Cleanup(func() { pop.Close() })
	return pop
}

func diffKeys(t *testing.T, ours, theirs map[string]bool, them string) {
	t.Helper()
	n := 0
	for k := range ours {
		if !theirs[k] && n < 10 {
			t.Errorf("only portwarden sees %s", k)
			n++
		}
	}
	for k := range theirs {
		if !ours[k] && n < 20 {
			t.Errorf("only %s sees %s", them, k)
			n++
		}
	}
}

func TestAgreesWithSS(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Fatal("ss (iproute2) is required: the test command installs it")
	}
	pop := startPopulation(t, sockettest.Config{Conns: 3000, Procs: 30, V6: 0.25, UDP: 1})
	pids := pop.PIDs()
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			ours := ourRows(collect(t, m.method, sockets.Query{}), pids, true)
			theirs := ssRows(t, pids)
			if len(ours) != pop.Sockets || len(theirs) != pop.Sockets {
				t.Errorf("population holds %d sockets; portwarden saw %d, ss %d", pop.Sockets, len(ours), len(theirs))
			}
			diffKeys(t, ours, theirs, "ss")
		})
	}
}

// TestAgreesWithGoNetstat checks the collector against an independent
// implementation on the same live sockets. go-netstat's owner search is
// quadratic, so the population is small.
func TestAgreesWithGoNetstat(t *testing.T) {
	pop := startPopulation(t, sockettest.Config{Conns: 200, Procs: 5, V6: 0.25, UDP: 1})
	pids := pop.PIDs()
	ours := ourRows(collect(t, sockets.Netlink, sockets.Query{}), pids, false)

	theirs := map[string]bool{}
	tables := []struct {
		proto string
		v6    bool
		list  func(netstat.AcceptFn) ([]netstat.SockTabEntry, error)
	}{
		{"tcp", false, netstat.TCPSocks}, {"tcp", true, netstat.TCP6Socks},
		{"udp", false, netstat.UDPSocks}, {"udp", true, netstat.UDP6Socks},
	}
	for _, tb := range tables {
		entries, err := tb.list(netstat.NoopFilter)
		if err != nil {
			t.Fatalf("go-netstat %s: %v", tb.proto, err)
		}
		for _, e := range entries {
			if e.Process == nil || !slices.Contains(pids, e.Process.Pid) {
				continue
			}
			theirs[rowKey(tb.proto, "", gnAddr(e.LocalAddr, tb.v6), gnAddr(e.RemoteAddr, tb.v6), []int{e.Process.Pid})] = true
		}
	}
	if len(ours) != pop.Sockets || len(theirs) != pop.Sockets {
		t.Errorf("population holds %d sockets; portwarden saw %d, go-netstat %d", pop.Sockets, len(ours), len(theirs))
	}
	diffKeys(t, ours, theirs, "go-netstat")
}

func gnAddr(a *netstat.SockAddr, v6 bool) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.IP)
	if !v6 {
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, a.Port)
}
