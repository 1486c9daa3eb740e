// Package session finds the SSH sessions live on this machine from what the
// kernel shows — established connections held by an SSH server, and the
// processes below each — and tells which of them this portwarden runs in:
// directly, under sudo or su (its ancestry), under tmux or screen (a client
// attached from the session), by its controlling terminal, or by the
// SSH_CONNECTION its ancestors were started with. Nothing rests on
// portwarden's own environment alone: Debian's sudo drops SSH_CONNECTION.
package session

import (
	"net/netip"
	"os/user"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

// SSH is one live SSH session.
type SSH struct {
	// Conn is the server's end of the session's connection: Local is the
	// SSH server's address, Remote the client's.
	Conn *sockets.Socket
	SSHD []int  // SSH server processes holding the connection
	User string // the user logged in; "" when unknown
	TTY  string // "pts/3"; "" when the session has no terminal (a command, sftp)
	// PreAuth is set when nobody is logged in yet: a client still
	// authenticating (or idling before it does, or guessing passwords).
	// It is a login attempt, not a session: no guard holds for it.
	PreAuth bool
	// Own is set when this portwarden runs inside the session; How says
	// how that was found ("portwarden runs below its sshd (pid 812)").
	Own bool
	How string
	// Multiplexer is the tmux or screen server this portwarden runs in,
	// when the session was found through a client attached from it: it
	// serves the session too.
	Multiplexer int
}

// Client is the address the session comes from.
func (s *SSH) Client() netip.Addr { return s.Conn.Remote.Addr().WithZone("").Unmap() }

// String names the session for a person: "alice's SSH session on pts/1
// from 198.51.100.7:50022", or "a login attempt (nobody logged in) from
// 203.0.113.66:56430".
func (s *SSH) String() string {
	var b strings.Builder
	if s.PreAuth {
		return "a login attempt (nobody logged in) from " + netip.AddrPortFrom(s.Client(), s.Conn.Remote.Port()).String()
	}
	if s.User != "" {
		b.WriteString(safetext.Visible(s.User) + "'s ")
	}
	b.WriteString("SSH session")
	if s.TTY != "" {
		b.WriteString(" on " + s.TTY)
	}
	b.WriteString(" from " + netip.AddrPortFrom(s.Client(), s.Conn.Remote.Port()).String())
	return b.String()
}

// IsServer reports whether a process name (comm) is an SSH server's:
// OpenSSH's sshd (and, from 9.8, sshd-session and sshd-auth) or Dropbear.
func IsServer(name string) bool {
	switch name {
	case "sshd", "sshd-session", "sshd-auth", "dropbear":
		return true
	}
	return false
}

// Find lists the SSH sessions in snap: established TCP connections held by
// an SSH server whose local port is a port something listens on in the
// same namespace (the server's end, not a connection sshd forwards out).
// self is this portwarden's PID; procRoot is normally "/proc".
func Find(procRoot string, snap *sockets.Snapshot, self int) []SSH {
	type key struct {
		ns   uint64
		port uint16
	}
	listening := map[key]bool{}
	for i := range snap.Sockets {
		if s := &snap.Sockets[i]; s.Proto == sockets.TCP && s.State == sockets.Listen {
			listening[key{s.NetNS, s.Local.Port()}] = true
		}
	}
	var out []SSH
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Proto != sockets.TCP || s.State != sockets.Established || !listening[key{s.NetNS, s.Local.Port()}] {
			continue
		}
		var pids []int
		for _, p := range s.Processes {
			if IsServer(p.Name) {
				pids = append(pids, p.PID)
			}
		}
		if len(pids) > 0 {
			out = append(out, SSH{Conn: s, SSHD: pids})
		}
	}
	if len(out) == 0 {
		return nil
	}
	t := newTree(processTable(procRoot))
	members := make([][]int, len(out))
	for i := range out {
		members[i] = t.below(out[i].SSHD)
		out[i].User, out[i].TTY = t.describe(members[i])
		out[i].PreAuth = preAuth(out[i].Conn, t, members[i])
	}
	markOwn(procRoot, out, members, t, self)
	return out
}

// tree is the process table with each process's children.
type tree struct {
	procs    map[int]*proc
	children map[int][]int
}

func newTree(procs map[int]*proc) *tree {
	t := &tree{procs: procs, children: map[int][]int{}}
	for pid, p := range procs {
		t.children[p.ppid] = append(t.children[p.ppid], pid)
	}
	return t
}

// below lists roots and every process under them, breadth first.
func (t *tree) below(roots []int) []int {
	seen := map[int]bool{}
	var out []int
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, t.children[pid]...)
	}
	return out
}

// describe names a session's user — the first one other than root among
// its processes' real users (the server's unprivileged child, the login
// shell, sudo's caller), else root — and its terminal (the first one a
// process below it has).
func (t *tree) describe(members []int) (userName, tty string) {
	var uid uint32
	read := false
	for _, pid := range members {
		p := t.procs[pid]
		if p == nil {
			continue
		}
		read = true
		if tty == "" && p.tty != 0 {
			tty = ttyName(p.tty)
		}
		if uid == 0 {
			uid = p.uid
		}
	}
	if !read {
		return "", tty // no process of the session could be read: unknown
	}
	userName = strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(userName); err == nil {
		userName = u.Username
	}
	return userName, tty
}

// ancestors lists pid and its parents, nearest first.
func (t *tree) ancestors(pid int) []*proc {
	var out []*proc
	for seen := map[int]bool{}; pid > 0 && !seen[pid]; {
		seen[pid] = true
		p := t.procs[pid]
		if p == nil {
			break
		}
		out = append(out, p)
		pid = p.ppid
	}
	return out
}
