package session

import (
	"github.com/portwarden/portwarden/safetext"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// markOwn sets Own and How on the sessions this portwarden (self) runs in,
// trying in turn what survives sudo, su, tmux and screen:
//  1. ancestry: portwarden runs below the session's SSH server;
//  2. a terminal multiplexer: portwarden runs below a tmux or screen
//     server, and a client of it (same user) runs in the session;
//  3. the controlling terminal: portwarden's is the session's;
//  4. SSH_CONNECTION in the environment of portwarden or an ancestor
//     (tmux keeps the one it started with) names the session's connection.
func markOwn(procRoot string, sessions []SSH, members [][]int, t *tree, self int) {
	sessionOf := map[int]int{}
	for i, m := range members {
		for _, pid := range m {
			sessionOf[pid] = i
		}
	}
	mark := func(i int, how string) {
		if !sessions[i].Own {
			sessions[i].Own, sessions[i].How = true, how
		}
	}
	chain := t.ancestors(self)
	for n, p := range chain {
		if i, ok := sessionOf[p.pid]; ok && IsServer(p.name) {
			mark(i, "portwarden runs inside it"+via(chain[1:n]))
			break
		}
	}
	for _, p := range chain {
		kind := multiplexer(p)
		if kind == "" {
			continue
		}
		for pid, c := range t.procs {
			if pid == p.pid || c.uid != p.uid || !isClient(kind, c) {
				continue
			}
			if i, ok := sessionOf[pid]; ok {
				mark(i, "portwarden runs in "+kind+" (server pid "+strconv.Itoa(p.pid)+"), attached from it by pid "+strconv.Itoa(pid))
				if sessions[i].How != "" && sessions[i].Multiplexer == 0 {
					sessions[i].Multiplexer = p.pid
				}
			}
		}
	}
	if me := t.procs[self]; me != nil && me.tty != 0 {
		for i := range sessions {
			if sessions[i].TTY == ttyName(me.tty) {
				mark(i, "portwarden's terminal "+sessions[i].TTY+" is the session's")
			}
		}
	}
	for _, p := range chain {
		env := strings.Fields(sshConnectionEnv(procRoot, p.pid))
		if len(env) != 4 {
			continue
		}
		client, err1 := netip.ParseAddr(env[0])
		cport, err2 := strconv.ParseUint(env[1], 10, 16)
		sport, err3 := strconv.ParseUint(env[3], 10, 16)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		for i := range sessions {
			c := sessions[i].Conn
			if sessions[i].Client() == client.WithZone("").Unmap() && c.Remote.Port() == uint16(cport) && c.Local.Port() == uint16(sport) {
				mark(i, "SSH_CONNECTION of "+strconv.Quote(p.name)+" (pid "+strconv.Itoa(p.pid)+") names it")
			}
		}
	}
}

// via says through which processes portwarden runs below a session's
// SSH server: " (through bash, sudo)". nearest is the chain from
// portwarden's parent up to below the server, nearest first.
func via(nearest []*proc) string {
	var names []string
	for _, p := range nearest {
		names = append(names, safetext.Visible(p.name))
	}
	if len(names) == 0 {
		return ""
	}
	slices.Reverse(names)
	return " (through " + strings.Join(names, " → ") + ")"
}

// multiplexer says whether p is a tmux or screen server: "tmux", "screen",
// or "".
func multiplexer(p *proc) string {
	switch {
	case p.name == "tmux: server":
		return "tmux"
	case p.name == "screen" || p.name == "SCREEN":
		return "screen"
	}
	return ""
}

// isClient reports whether c is a client of a multiplexer of kind: tmux
// names its clients "tmux: client" (or "tmux" before 3.2); a screen client
// is a screen whose parent is not init (the server's is, once detached).
func isClient(kind string, c *proc) bool {
	switch kind {
	case "tmux":
		return c.name == "tmux: client" || c.name == "tmux"
	case "screen":
		return (c.name == "screen" || c.name == "SCREEN") && c.ppid != 1
	}
	return false
}
