package action

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/sockets"
)

// Refusal is an action portwarden never takes, with the reason in plain
// words.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// Session is the admin's own session: what must not be cut by accident.
type Session struct {
	Self      int               // this portwarden
	Ancestors []origin.Ancestor // its parent chain, parent first
	// SSHServer is the local end of the SSH connection the admin came in
	// on, from SSH_CONNECTION ("client_ip client_port server_ip server_port");
	// invalid when not over SSH.
	SSHServer netip.AddrPort
	// SSHClient is the admin's end of that connection, from SSH_CONNECTION;
	// invalid when not known.
	SSHClient netip.AddrPort
}

// CurrentSession describes the running portwarden's session.
func CurrentSession(procRoot string) Session {
	self := os.Getpid()
	s := Session{Self: self, Ancestors: origin.Describe(procRoot, self, os.Getppid(), "").Parents}
	for _, env := range []string{"SSH_CONNECTION", "SSH_CLIENT"} {
		if f := strings.Fields(os.Getenv(env)); len(f) == 4 {
			addr, err1 := netip.ParseAddr(f[2])
			port, err2 := strconv.ParseUint(f[3], 10, 16)
			if err1 == nil && err2 == nil {
				s.SSHServer = netip.AddrPortFrom(addr, uint16(port))
				if c, err := netip.ParseAddr(f[0]); err == nil {
					if cport, err := strconv.ParseUint(f[1], 10, 16); err == nil {
						s.SSHClient = netip.AddrPortFrom(c.Unmap(), uint16(cport))
					}
				}
				break
			}
		} else if len(f) == 3 && env == "SSH_CLIENT" { // "client_ip client_port server_port"
			if port, err := strconv.ParseUint(f[2], 10, 16); err == nil {
				s.SSHServer = netip.AddrPortFrom(netip.Addr{}, uint16(port))
			}
		}
	}
	return s
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "fish": true, "ksh": true,
	"mksh": true, "tcsh": true, "csh": true, "ash": true, "busybox": true}

// pfKthread is PF_KTHREAD in /proc/PID/stat's flags field.
const pfKthread = 0x00200000

// Check decides whether t may be signalled. It returns a *Refusal for what
// is never killed (PID 1, kernel threads, portwarden itself, the shell it
// was started from), ErrGone or ErrReused when the process the admin saw
// is no longer there, and otherwise a danger: "" for an ordinary process,
// or a loud warning when t is part of the admin's own session (an
// ancestor such as the sshd serving it, or the sshd listener it came in
// through), which needs the admin to type the PID (or --force).
func (s Session) Check(procRoot string, t Target, snap *sockets.Snapshot) (danger string, err error) {
	switch {
	case t.PID <= 0:
		return "", &Refusal{"no process"}
	case t.PID == 1:
		return "", &Refusal{"PID 1 is init: killing it takes the whole system (or container) down. Refused."}
	case t.PID == s.Self:
		return "", &Refusal{"it is this portwarden. Refused."}
	}
	st, err := readStat(procRoot, t.PID)
	if err != nil {
		return "", err
	}
	if st.start != t.StartTicks {
		return "", ErrReused
	}
	if st.flags&pfKthread != 0 || st.ppid == 2 || t.PID == 2 {
		return "", &Refusal{"it is a kernel thread: it cannot be killed, and is not what holds a socket. Refused."}
	}
	for i, a := range s.Ancestors {
		if a.PID != t.PID {
			continue
		}
		if shells[a.Name] && !hasShellBelow(s.Ancestors[:i]) {
			return "", &Refusal{"it is the shell portwarden was started from. Refused."}
		}
		what := "a parent of this portwarden"
		if a.Name == "sshd" || strings.HasPrefix(a.Name, "sshd") {
			what = "the sshd serving your own SSH session"
		}
		return fmt.Sprintf("DANGER: %s is %s. Killing it cuts your own session: you may lock yourself out of this machine.", t, what), nil
	}
	if s.SSHServer.Port() != 0 && snap != nil {
		for i := range snap.Sockets {
			sk := &snap.Sockets[i]
			if !sk.Listening() || sk.Proto != sockets.TCP || sk.Local.Port() != s.SSHServer.Port() {
				continue
			}
			for _, p := range sk.Processes {
				if p.PID == t.PID {
					return fmt.Sprintf("DANGER: %s holds the listener on port %d that your own SSH session came in through. Killing it stops new logins, including yours if this session drops.", t, s.SSHServer.Port()), nil
				}
			}
		}
	}
	return "", nil
}

// DisableDanger says when disabling the service behind sock would cut the
// admin's own session: a holder is an ancestor of this portwarden (the
// sshd serving it), or sock is the SSH listener the session came in
// through. Disabling such a service stops it and keeps it from coming
// back at boot, so the warning is as loud as for a kill. "" otherwise.
func (s Session) DisableDanger(sock *sockets.Socket) string {
	for _, p := range sock.Processes {
		for _, a := range s.Ancestors {
			if a.PID == p.PID {
				return fmt.Sprintf("DANGER: %s (pid %d) is a parent of this portwarden, part of your own session. Disabling its service stops it now and at every boot: you may lock yourself out of this machine.", p.Name, p.PID)
			}
		}
	}
	if s.SSHServer.Port() != 0 && sock.Proto == sockets.TCP && sock.Listening() && sock.Local.Port() == s.SSHServer.Port() &&
		(!s.SSHServer.Addr().IsValid() || sock.Local.Addr().IsUnspecified() || sock.Local.Addr().Unmap() == s.SSHServer.Addr().Unmap()) {
		return fmt.Sprintf("DANGER: this is the SSH listener (port %d) your own session came in through. Disabling its service stops new logins now and after every boot, including yours once this session ends: you may lock yourself out of this machine.", s.SSHServer.Port())
	}
	return ""
}

// hasShellBelow reports whether a shell stands between portwarden and an
// ancestor: then that ancestor is not the shell it was started from.
func hasShellBelow(nearer []origin.Ancestor) bool {
	for _, a := range nearer {
		if shells[a.Name] {
			return true
		}
	}
	return false
}

// Errors for a process that is no longer the one the admin saw.
var (
	ErrGone   = errors.New("the process has already exited")
	ErrReused = errors.New("the process has exited and its PID now belongs to another process: nothing was sent")
)

type procStat struct {
	ppid  int
	flags uint64
	start uint64
	state byte
}

// readStat reads ppid, flags, state and start time from /proc/PID/stat.
// A zombie counts as gone: it has exited and only waits to be reaped.
func readStat(procRoot string, pid int) (procStat, error) {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if os.IsNotExist(err) {
			return procStat{}, ErrGone
		}
		return procStat{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("read process %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("read process %d: malformed stat", pid)
	}
	var st procStat
	st.state = f[0][0]
	st.ppid, _ = strconv.Atoi(f[1])
	st.flags, _ = strconv.ParseUint(f[6], 10, 64)
	st.start, _ = strconv.ParseUint(f[19], 10, 64)
	if st.state == 'Z' || st.state == 'X' {
		return st, ErrGone
	}
	return st, nil
}

// OwnConnection reports whether s is the admin's own SSH connection: its
// local end is the SSH server's, and its remote end the admin's (any
// remote end on that server port when only the port is known).
func (s Session) OwnConnection(sock *sockets.Socket) bool {
	if !s.SSHServer.IsValid() && s.SSHServer.Port() == 0 {
		return false
	}
	if sock.Local.Port() != s.SSHServer.Port() ||
		(s.SSHServer.Addr().IsValid() && sock.Local.Addr().WithZone("").Unmap() != s.SSHServer.Addr().WithZone("").Unmap()) {
		return false
	}
	if !s.SSHClient.IsValid() {
		return true
	}
	return sock.Remote.Addr().WithZone("").Unmap() == s.SSHClient.Addr().WithZone("").Unmap() && sock.Remote.Port() == s.SSHClient.Port()
}

// OwnPeer reports whether blocking p would cut the admin's own SSH
// session: p holds the admin's address.
func (s Session) OwnPeer(p netip.Prefix) bool {
	return s.SSHClient.IsValid() && p.Contains(s.SSHClient.Addr().WithZone("").Unmap())
}
