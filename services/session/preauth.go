package session

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

// An SSH server titles its processes: OpenSSH's monitor and the user's
// process read "sshd: alice [priv]" and "sshd: alice@pts/0" (or
// "@notty") once someone is logged in, "sshd: [accepted]", "sshd: root
// [priv]", "sshd: [net]" (or "sshd-session: …", "sshd-auth: …" from 9.8)
// while a client is still authenticating; its listener "sshd: … [listener]
// 7 of 10-100 startups". Dropbear gives no title: a logged-in session has
// a process below it that is not dropbear (the shell, the command).

// title reads a process's command line as it shows in ps: its arguments
// joined by spaces (an SSH server rewrites them into its title).
func title(procRoot string, pid int) (string, bool) {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " ")), true
}

// LoginAttempt reports whether a connection held by an SSH server is one
// where nobody has logged in yet: OpenSSH titles every process holding it
// ("sshd: [accepted]", "sshd: root [priv]", "sshd-auth: [net]") and none
// "user@tty". Only OpenSSH's titles say so: a connection any other
// process holds (Dropbear, which gives no title), or one whose holder's
// title could not be read, is not taken for one.
func LoginAttempt(s *sockets.Socket) bool {
	if s.Proto != sockets.TCP || s.State != sockets.Established || len(s.Processes) == 0 {
		return false
	}
	for _, p := range s.Processes {
		if p.Name == "dropbear" || !IsServer(p.Name) || len(p.Cmdline) == 0 {
			return false
		}
		title := strings.Join(p.Cmdline, " ")
		titled := strings.HasPrefix(title, "sshd: ") || strings.HasPrefix(title, "sshd-session: ") || strings.HasPrefix(title, "sshd-auth: ")
		// A connection's own title names its stage; the listener's
		// ("sshd: /usr/sbin/sshd -D [listener] …") names none.
		stage := strings.Contains(title, "[accepted]") || strings.Contains(title, "[priv]") ||
			strings.Contains(title, "[net]") || strings.Contains(title, "[preauth]")
		if !titled || !stage || strings.Contains(title, "@") {
			return false
		}
	}
	return true
}

// preAuth reports whether a session is a login attempt: its connection
// is one (LoginAttempt), and no process below its server is anything but
// the server (a shell, a command).
func preAuth(conn *sockets.Socket, t *tree, members []int) bool {
	if !LoginAttempt(conn) {
		return false
	}
	for _, pid := range members {
		if p := t.procs[pid]; p != nil && !IsServer(p.name) {
			return false
		}
	}
	return true
}

// startups matches OpenSSH's listener title: "[listener] 7 of 10-100
// startups" (MaxStartups start:rate:full, as start-full).
var startups = regexp.MustCompile(`\[listener\] (\d+) of (\d+)-(\d+) startups`)

// MaxStartups reads the titles of the SSH servers listening in snap and
// returns a warning for each whose unauthenticated connections reach
// MaxStartups' start: from there sshd drops new connections at random —
// the admins' own logins too — and all of them at full.
func MaxStartups(procRoot string, snap *sockets.Snapshot) []string {
	var out []string
	seen := map[int]bool{}
	for i := snap.FirstListener(); i < len(snap.Sockets); i++ {
		s := &snap.Sockets[i]
		if s.Proto != sockets.TCP || !s.Listening() {
			continue
		}
		for _, p := range s.Processes {
			if !IsServer(p.Name) || seen[p.PID] {
				continue
			}
			seen[p.PID] = true
			t, ok := title(procRoot, p.PID)
			if !ok {
				continue
			}
			m := startups.FindStringSubmatch(t)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			start, _ := strconv.Atoi(m[2])
			full, _ := strconv.Atoi(m[3])
			switch {
			case n >= full:
				out = append(out, fmt.Sprintf("sshd (pid %d, %s) refuses every new login: %d unauthenticated connections, MaxStartups full at %d — the admins' own logins included",
					p.PID, safetext.Visible(s.Local.String()), n, full))
			case n >= start:
				out = append(out, fmt.Sprintf("sshd (pid %d, %s) drops new logins at random: %d unauthenticated connections, past MaxStartups' start %d (full at %d)",
					p.PID, safetext.Visible(s.Local.String()), n, start, full))
			}
		}
	}
	return out
}
