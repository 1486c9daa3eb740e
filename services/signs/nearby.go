//go:build linux

package signs

import (
	"bufio"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

// serveShells are the tools in shells that serve a shell rather than
// run commands: the near end of a reverse shell, not its far end.
var serveShells = map[string]bool{"nc": true, "ncat": true, "netcat": true, "socat": true, "telnet": true, "busybox": true}

// commandShell reports whether name is a shell or interpreter that runs
// commands as it reads them.
func commandShell(name string) bool { return shells[name] && !serveShells[name] }

// terminalServers rightly give a shell a terminal or a pipe while holding
// a network connection: sshd and its session processes, telnetd and
// login, dropbear, mosh — from a system directory.
var terminalServers = map[string]bool{"sshd": true, "sshd-session": true, "sshd-auth": true, "dropbear": true,
	"telnetd": true, "in.telnetd": true, "login": true, "mosh-server": true, "tmux": true, "screen": true}

// Near finds, for each network holder, the shells one hop from it: a
// shell or interpreter among its children (or, when a shell started it,
// its siblings: a pipeline) whose stdin comes from it — or whose output
// goes to it while the shell reads commands interactively (-i) — through
// a pipe, a named pipe, a socket pair or a terminal whose master it
// holds. sshd, telnetd, login, dropbear and mosh (from a system
// directory) are where shells rightly live and are passed over. The
// signs are the holder's, keyed by its PID.
//
// A shell appears by a fork, which takes a new PID: while the kernel has
// handed out none since the last look (/proc/loadavg's last field), the
// last answer stands for the holders it covered, and only new holders
// are looked at — for at most nearEvery, which bounds how long a process
// that execs a shell in place goes unseen. A quiet refresh so reads one
// small file, not every holder's children.
func (r *Reader) Near(holders []NetworkHolder) map[int][]Sign {
	lastPID := r.lastPID()
	n := &r.near
	again := n.at.IsZero() || time.Since(n.at) >= nearEvery || lastPID == 0 || lastPID != n.lastPID
	if !again && sameHolders(n.holders, holders) {
		return n.signs
	}
	seen := make(map[procKey]bool, len(n.holders))
	if !again {
		for _, k := range n.holders {
			seen[k] = true
		}
	}
	var look []NetworkHolder
	out := map[int][]Sign{}
	keys := make([]procKey, 0, len(holders))
	for _, h := range holders {
		k := procKey{h.Process.PID, h.Process.StartTicks}
		keys = append(keys, k)
		switch {
		case !seen[k]:
			look = append(look, h)
		case n.signs[k.pid] != nil:
			out[k.pid] = n.signs[k.pid]
		}
	}
	maps.Copy(out, r.findNear(look))
	if again {
		n.at, n.lastPID = time.Now(), lastPID
	}
	n.signs, n.holders = out, keys
	return out
}

// nearEvery bounds how long Near's last answer stands.
const nearEvery = 10 * time.Second

// nearMemory is Near's last answer and what it was given.
type nearMemory struct {
	at      time.Time
	lastPID int
	holders []procKey
	signs   map[int][]Sign
}

func sameHolders(keys []procKey, holders []NetworkHolder) bool {
	if len(keys) != len(holders) {
		return false
	}
	for i, h := range holders {
		if keys[i] != (procKey{h.Process.PID, h.Process.StartTicks}) {
			return false
		}
	}
	return true
}

// lastPID is the PID the kernel handed out last (threads included), or 0
// when it cannot be read.
func (r *Reader) lastPID() int {
	b, err := os.ReadFile(r.procRoot + "/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 5 {
		return 0
	}
	n, _ := strconv.Atoi(f[4])
	return n
}

// findNear looks at every holder's children and siblings.
func (r *Reader) findNear(holders []NetworkHolder) map[int][]Sign {
	out := map[int][]Sign{}
	for _, h := range holders {
		p := h.Process
		if terminalServers[path.Base(p.Exe)] && systemDir(path.Dir(p.Exe)) {
			continue
		}
		candidates := r.children(p.PID)
		if r.isShell(p.PPID) {
			candidates = append(candidates, r.children(p.PPID)...) // its pipeline's siblings
		}
		var ends *heldEnds
		slices.Sort(candidates)
		for _, c := range slices.Compact(candidates) {
			if c == p.PID || !r.isShell(c) {
				continue
			}
			streams := r.stdio(c)
			if !streams.any() {
				continue
			}
			if ends == nil {
				ends = r.endsHeldBy(p.PID)
			}
			in, outs := streams.linked(c, ends, r.procRoot)
			if !in && !(len(outs) > 0 && r.interactive(c)) {
				continue
			}
			out[p.PID] = append(out[p.PID], Sign{Code: ShellNearSocket, Risk: ShellNearSocket.Risk(),
				Detail: r.describeNear(c, in, outs, streams) + "; " + quote(p.Exe) + " holds " + h.Holds})
		}
	}
	return out
}

// children lists a process's children (its main thread's: the ones a
// single-threaded tool like socat or ncat forks).
func (r *Reader) children(pid int) []int {
	b, err := os.ReadFile(r.procRoot + "/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// isShell reports whether process pid runs a shell or an interpreter, by
// its name or its executable's.
func (r *Reader) isShell(pid int) bool {
	dir := r.procRoot + "/" + strconv.Itoa(pid)
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		return false
	}
	if commandShell(strings.TrimSpace(string(comm))) {
		return true
	}
	exe, err := os.Readlink(dir + "/exe")
	return err == nil && (commandShell(path.Base(exe)) || commandShell(strings.TrimRight(path.Base(exe), "0123456789.")))
}

// interactive reports whether a shell was started to read commands as a
// terminal would give them: sh -i, bash -i.
func (r *Reader) interactive(pid int) bool {
	b, err := os.ReadFile(r.procRoot + "/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	for _, a := range args[1:] {
		if a == "-i" || (strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "i") && len(a) <= 4) {
			return true
		}
	}
	return false
}

// end is one open file as stat sees it through /proc/PID/fd/N.
type end struct {
	mode     uint32
	dev, ino uint64
	rdev     uint64
}

// stdio are a process's standard streams.
type stdio [3]*end

func (s stdio) any() bool {
	for _, e := range s {
		if e != nil && (isFifo(e) || isSocket(e) || isPTY(e)) {
			return true
		}
	}
	return false
}

func (r *Reader) stdio(pid int) stdio {
	var s stdio
	for fd := range s {
		s[fd] = statFD(r.procRoot + "/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd))
	}
	return s
}

func statFD(p string) *end {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return nil
	}
	return &end{mode: st.Mode, dev: uint64(st.Dev), ino: st.Ino, rdev: uint64(st.Rdev)}
}

func isFifo(e *end) bool   { return e.mode&syscall.S_IFMT == syscall.S_IFIFO }
func isSocket(e *end) bool { return e.mode&syscall.S_IFMT == syscall.S_IFSOCK }

// isPTY reports whether e is a terminal's slave end: /dev/pts/N (Unix98
// pty slaves have majors 136 to 143).
func isPTY(e *end) bool {
	major := unix.Major(e.rdev)
	return e.mode&syscall.S_IFMT == syscall.S_IFCHR && major >= 136 && major <= 143
}

// ptyIndex is the N of /dev/pts/N.
func ptyIndex(e *end) uint64 { return uint64(unix.Major(e.rdev)-136)<<8 + uint64(unix.Minor(e.rdev)) }

// heldEnds are what a process holds that a shell's streams may lead to.
type heldEnds struct {
	fifos   map[[2]uint64]bool // pipes and named pipes, by device and inode
	sockets map[uint64]bool    // socket inodes
	ptys    map[uint64]bool    // the terminals whose master it holds, by index
}

// endsHeldBy reads every open file of process pid once.
func (r *Reader) endsHeldBy(pid int) *heldEnds {
	h := &heldEnds{fifos: map[[2]uint64]bool{}, sockets: map[uint64]bool{}, ptys: map[uint64]bool{}}
	dir := r.procRoot + "/" + strconv.Itoa(pid)
	entries, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return h
	}
	for _, e := range entries {
		st := statFD(dir + "/fd/" + e.Name())
		switch {
		case st == nil:
		case isFifo(st):
			h.fifos[[2]uint64{st.dev, st.ino}] = true
		case isSocket(st):
			h.sockets[st.ino] = true
		case st.mode&syscall.S_IFMT == syscall.S_IFCHR && st.rdev == 5<<8|2: // /dev/ptmx: a terminal's master
			if n, ok := ttyIndex(dir + "/fdinfo/" + e.Name()); ok {
				h.ptys[n] = true
			}
		}
	}
	return h
}

// ttyIndex reads "tty-index:" from a ptmx descriptor's fdinfo (Linux 4.20).
func ttyIndex(p string) (uint64, bool) {
	f, err := os.Open(p)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "tty-index:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// linked reports which of shell's streams lead to the holder's ends:
// stdin, and the output streams by name.
func (s stdio) linked(shell int, h *heldEnds, procRoot string) (in bool, outs []string) {
	for fd, e := range s {
		if e == nil {
			continue
		}
		ok := false
		switch {
		case isFifo(e):
			ok = h.fifos[[2]uint64{e.dev, e.ino}]
		case isPTY(e):
			ok = h.ptys[ptyIndex(e)]
		case isSocket(e): // a socket pair: its other end (a network socket has none to find)
			if peer, err := sockets.UnixPeer(procRoot, shell, e.ino); err == nil && peer != 0 {
				ok = h.sockets[peer]
			}
		}
		switch {
		case !ok:
		case fd == 0:
			in = true
		default:
			outs = append(outs, []string{"", "stdout", "stderr"}[fd])
		}
	}
	return in, outs
}

// describeNear says which shell and how: "bash pid 812 (user www-data)
// reads its stdin from and writes its stdout to it through a terminal".
func (r *Reader) describeNear(pid int, in bool, outs []string, s stdio) string {
	comm, _ := os.ReadFile(r.procRoot + "/" + strconv.Itoa(pid) + "/comm")
	name := safetext.Visible(strings.TrimSpace(string(comm)))
	var what []string
	if in {
		what = append(what, "reads its stdin from")
	}
	if len(outs) > 0 {
		what = append(what, "writes its "+strings.Join(outs, " and ")+" to")
	}
	how := "a pipe"
	switch e := s[0]; {
	case e != nil && isPTY(e):
		how = "a terminal whose master it holds (/dev/pts/" + strconv.FormatUint(ptyIndex(e), 10) + ")"
	case e != nil && isSocket(e):
		how = "a socket pair"
	}
	return name + " pid " + strconv.Itoa(pid) + " " + strings.Join(what, " and ") + " this process through " + how
}
