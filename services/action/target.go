// Package action acts on the processes behind sockets: it resolves what the
// admin points at, decides what may never be touched and what needs a loud
// confirmation, and signals processes without ever hitting a recycled PID.
package action

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/sockets"
)

// Target is a process as the admin saw it. PID and start time together
// name one process: a PID recycled since has another start time.
type Target struct {
	PID        int
	PPID       int
	StartTicks uint64
	Name       string
	Exe        string
	User       string
	Cmdline    []string
	Cgroup     string
}

// TargetOf returns the target for a collected process.
func TargetOf(p *sockets.Process) Target {
	return Target{PID: p.PID, PPID: p.PPID, StartTicks: p.StartTicks, Name: p.Name, Exe: p.Exe, User: p.User, Cmdline: p.Cmdline, Cgroup: p.Cgroup}
}

// String renders "sshd (pid 812, user root)".
func (t Target) String() string {
	return fmt.Sprintf("%s (pid %d, user %s)", t.Name, t.PID, t.User)
}

// ErrAmbiguous is returned by Resolve when a target names several
// processes; the targets come with it.
var ErrAmbiguous = errors.New("the target matches several processes")

// Resolve finds the processes a command-line target names in a snapshot:
// a PID ("812"), a protocol and port ("tcp/22", "udp/53", ":22" for
// either), or a local address and port ("127.0.0.1:6379",
// "tcp/[::1]:8080"). Ports match listeners only.
func Resolve(snap *sockets.Snapshot, arg string) ([]Target, error) {
	if pid, err := strconv.Atoi(arg); err == nil {
		for i := range snap.Sockets {
			for _, p := range snap.Sockets[i].Processes {
				if p.PID == pid {
					return []Target{TargetOf(p)}, nil
				}
			}
		}
		return nil, fmt.Errorf("pid %d holds no socket (or has exited)", pid)
	}
	socks, err := Listeners(snap, arg)
	if err != nil {
		return nil, err
	}
	var out []Target
	for _, s := range socks {
		for _, p := range s.Processes {
			if !slices.ContainsFunc(out, func(t Target) bool { return t.PID == p.PID }) {
				out = append(out, TargetOf(p))
			}
		}
	}
	switch {
	case len(out) == 0:
		return nil, fmt.Errorf("the owner of %s cannot be read: run portwarden as root", arg)
	case len(out) > 1:
		slices.SortFunc(out, func(a, b Target) int { return a.PID - b.PID })
		return out, ErrAmbiguous
	}
	return out, nil
}

// TargetFromProc reads a target straight from /proc, for a PID that holds
// no socket (the refusal rules still apply to it).
func TargetFromProc(procRoot string, pid int) (Target, error) {
	st, err := readStat(procRoot, pid)
	if err != nil {
		return Target{}, err
	}
	dir := procRoot + "/" + strconv.Itoa(pid)
	t := Target{PID: pid, PPID: st.ppid, StartTicks: st.start, User: "?"}
	if b, err := os.ReadFile(dir + "/comm"); err == nil {
		t.Name = strings.TrimSpace(string(b))
	}
	t.Exe, _ = os.Readlink(dir + "/exe")
	if b, err := os.ReadFile(dir + "/cmdline"); err == nil && len(b) > 0 {
		t.Cmdline = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	if fi, err := os.Stat(dir); err == nil {
		if u, err := user.LookupId(strconv.FormatUint(uint64(fileUID(fi)), 10)); err == nil {
			t.User = u.Username
		}
	}
	return t, nil
}

// portTarget is a parsed port target: a protocol ("" for either), an
// address (invalid for any) and a port.
type portTarget struct {
	proto string
	addr  netip.Addr
	port  uint16
}

// CheckTarget reports whether arg is a target at all — a PID, tcp/PORT,
// udp/PORT, :PORT or ADDR:PORT — before anything is looked up: a malformed
// one is bad usage, not a target that was not found.
func CheckTarget(arg string) error {
	if pid, err := strconv.Atoi(arg); err == nil {
		if pid <= 0 {
			return fmt.Errorf("%q: a PID is a positive number", arg)
		}
		return nil
	}
	_, err := parsePortTarget(arg)
	return err
}

func parsePortTarget(arg string) (portTarget, error) {
	var t portTarget
	proto, rest, hasProto := strings.Cut(arg, "/")
	if !hasProto {
		proto, rest = "", arg
	} else if proto != "tcp" && proto != "udp" {
		return t, fmt.Errorf("%q: protocol must be tcp or udp", arg)
	}
	t.proto = proto
	portStr := rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		portStr = rest[i+1:]
		if host := strings.Trim(rest[:i], "[]"); host != "" {
			a, err := netip.ParseAddr(host)
			if err != nil {
				return t, fmt.Errorf("%q: %q is not an IP address", arg, host)
			}
			t.addr = a
		}
	} else if !hasProto {
		return t, fmt.Errorf("%q: want a PID, PROTO/PORT, :PORT or ADDR:PORT", arg)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return t, fmt.Errorf("%q: port must be 1-65535", arg)
	}
	t.port = uint16(port)
	return t, nil
}

// Listeners returns the listening sockets a port target names: "tcp/22",
// "udp/53", ":22" (either protocol), "127.0.0.1:6379" or "tcp/[::1]:8080".
// A bare number is a PID, not a port: it is an error here.
func Listeners(snap *sockets.Snapshot, arg string) ([]*sockets.Socket, error) {
	t, err := parsePortTarget(arg)
	if err != nil {
		return nil, err
	}
	proto, addr, port := t.proto, t.addr, t.port
	var out []*sockets.Socket
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Listening() && s.Local.Port() == port && (proto == "" || s.Proto.String() == proto) &&
			(!addr.IsValid() || s.Local.Addr().WithZone("").Unmap() == addr.Unmap()) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nothing listens on %s", arg)
	}
	return out, nil
}
