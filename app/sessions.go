package app

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/portwarden/portwarden/services/block"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/lifeline"
	"github.com/portwarden/portwarden/services/session"
	"github.com/portwarden/portwarden/sockets"
)

// resolvConf names the DNS resolvers a block must spare.
const resolvConf = "/etc/resolv.conf"

// sshSessions finds the SSH sessions live in snap, and which one this
// portwarden runs in, from the kernel's sockets and /proc.
func (a *App) sshSessions(snap *sockets.Snapshot) []session.SSH {
	if snap == nil {
		return nil
	}
	return session.Find(procRoot, snap, a.session.Self)
}

// guard is the admin's session as the kill and disable guards take it:
// where portwarden's environment does not say which SSH connection it
// came in on (sudo drops SSH_CONNECTION), the one found from the kernel.
func (a *App) guard(snap *sockets.Snapshot) action.Session {
	g := a.session
	if g.SSHServer.IsValid() {
		return g
	}
	for _, s := range a.sshSessions(snap) {
		if s.Own {
			g.SSHServer, g.SSHClient = s.Conn.Local, netip.AddrPortFrom(s.Client(), s.Conn.Remote.Port())
			break
		}
	}
	return g
}

// killDanger says whether t serves an SSH session someone is logged in
// to, as found from the kernel (so from tmux, screen and sudo too): one of
// its SSH server processes, or the tmux or screen server the admin's own
// session is attached to. The admin's own comes first and loudest; a
// login attempt (nobody logged in) is no session.
func (a *App) killDanger(snap *sockets.Snapshot, t action.Target) string {
	other := ""
	for _, s := range a.sshSessions(snap) {
		if s.PreAuth {
			continue
		}
		serves := slices.Contains(s.SSHD, t.PID)
		switch {
		case s.Own && serves:
			return fmt.Sprintf("DANGER: YOUR OWN SSH SESSION: %s serves %s (%s). Killing it cuts your own session: you may lock yourself out of this machine.", t, s.String(), s.How)
		case s.Own && s.Multiplexer == t.PID:
			return fmt.Sprintf("DANGER: YOUR OWN SSH SESSION: %s is the terminal multiplexer this portwarden runs in (%s). Killing it ends every window in it, this one too.", t, s.How)
		case serves && other == "":
			other = fmt.Sprintf("DANGER: %s serves %s: killing it logs that user out.", t, s.String())
		}
	}
	return other
}

// closeDangers says which of socks are SSH sessions, the admin's own
// first and loudest. A login attempt (nobody logged in) is none.
func (a *App) closeDangers(snap *sockets.Snapshot, socks []*sockets.Socket) []string {
	sessions := a.sshSessions(snap)
	var own, others []string
	for _, s := range socks {
		ssh := sessionOf(sessions, s)
		if ssh != nil && ssh.PreAuth {
			continue
		}
		switch {
		case ssh != nil && ssh.Own:
			own = append(own, fmt.Sprintf("YOUR OWN SSH SESSION: %s is your own SSH connection, %s (%s): closing it ends this session",
				ConnectionID(s), ssh, ssh.How))
		case ssh != nil:
			others = append(others, fmt.Sprintf("%s is %s: closing it logs that user out", ConnectionID(s), ssh))
		case a.session.OwnConnection(s):
			own = append(own, "YOUR OWN SSH SESSION: this is your own SSH connection ("+ConnectionID(s)+"): closing it ends this session")
		}
	}
	return append(own, others...)
}

// blockDangers says what blocking blk would cut: SSH sessions (the
// admin's own first; a login attempt is none: blocking a brute-forcer
// needs no force), and the host's lifelines — gateways, resolvers,
// link-local ranges, its own addresses, every address.
func (a *App) blockDangers(snap *sockets.Snapshot, blk block.Block) []string {
	var own, others []string
	for _, ssh := range a.sshSessions(snap) {
		if ssh.PreAuth || !blk.Covers(ssh.Client(), sockets.TCP, ssh.Conn.Local.Port()) {
			continue
		}
		if ssh.Own {
			own = append(own, fmt.Sprintf("YOUR OWN SSH SESSION: this blocks %s, the address your own SSH session comes from — %s (%s): it would cut you off",
				ssh.Client(), ssh.String(), ssh.How))
		} else {
			others = append(others, fmt.Sprintf("this blocks %s: it would cut that session off", ssh.String()))
		}
	}
	if len(own) == 0 && a.session.SSHClient.IsValid() && blk.Covers(a.session.SSHClient.Addr(), sockets.TCP, a.session.SSHServer.Port()) {
		own = append(own, "YOUR OWN SSH SESSION: this blocks "+a.session.SSHClient.Addr().String()+", the address your own SSH session comes from: it would cut you off")
	}
	lines := lifeline.Read(resolvConf)
	for _, hit := range lines.Hit(blk.Peer) {
		others = append(others, "this blocks "+hit)
	}
	for _, gap := range lines.Gaps {
		others = append(others, "portwarden could not read "+gap+": it cannot show that this block spares them")
	}
	return append(own, others...)
}

// sessionOf finds the SSH session whose connection s is.
func sessionOf(sessions []session.SSH, s *sockets.Socket) *session.SSH {
	for i := range sessions {
		c := sessions[i].Conn
		if c == s || c.NetNS == s.NetNS && c.Proto == s.Proto && c.Local == s.Local && c.Remote == s.Remote {
			return &sessions[i]
		}
	}
	return nil
}
