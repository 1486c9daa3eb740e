//go:build linux

package signs

import (
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/sockets"
)

// Reader reads the signs of processes, each once per process start (PID
// and start time), and each binary's checksum once per file (device,
// inode, size, modification time). Make one with NewReader and keep it
// across refreshes; it is not safe for concurrent use.
type Reader struct {
	procRoot string
	byProc   map[procKey]cached
	packages *packages
	near     nearMemory
}

// cached are a process's signs that change only when it runs another
// binary (an exec keeps the PID and start time).
type cached struct {
	exe   string
	signs []Sign
}

type procKey struct {
	pid   int
	start uint64
}

// NewReader reads from procRoot (normally "/proc") and the package
// database under dbRoot (normally "/": /var/lib/dpkg).
func NewReader(procRoot, dbRoot string) *Reader {
	return &Reader{procRoot: procRoot, byProc: map[procKey]cached{}, packages: newPackages(dbRoot)}
}

// Preload reads the package database's index now, where it reads one at
// all, so that a caller can overlap it with other work; Of would read it
// at its first question otherwise. Not safe to run beside Of.
func (r *Reader) Preload() { r.packages.load() }

// Network describes a socket inode that is a TCP or UDP socket ("a TCP
// connection to 198.51.100.7:4445"); ok is false for any other (a unix
// socket, a pipe).
type Network func(inode uint64) (desc string, ok bool)

// Of returns the signs of p, and what could not be read, as warnings.
// What the binary and the environment say is read once per process start
// and binary; whether a shell's standard streams are sockets, every time.
func (r *Reader) Of(p *sockets.Process, network Network) ([]Sign, []string) {
	dir := r.procRoot + "/" + strconv.Itoa(p.PID)
	exe, exeErr := os.Readlink(dir + "/exe")
	k := procKey{p.PID, p.StartTicks}
	c, ok := r.byProc[k]
	var warnings []string
	if !ok || c.exe != exe {
		c = cached{exe: exe}
		c.signs, warnings = r.static(p, dir, exe, exeErr)
		r.byProc[k] = c
	}
	out := c.signs
	if d := shellOnSocket(dir, p, strings.TrimSuffix(exe, " (deleted)"), network); d != "" {
		out = append(slices.Clip(out), Sign{Code: ShellOnSocket, Detail: d, Risk: ShellOnSocket.Risk()})
	}
	return out, warnings
}

// static reads the signs of the binary, the name and the environment.
func (r *Reader) static(p *sockets.Process, dir, exe string, exeErr error) ([]Sign, []string) {
	var out []Sign
	var warnings []string
	addSign := func(s Sign) { out = append(out, s) }
	add := func(c Code, detail string) { addSign(Sign{Code: c, Detail: detail, Risk: c.Risk()}) }
	if exeErr != nil {
		if !os.IsNotExist(exeErr) {
			warnings = append(warnings, "could not read the executable of pid "+strconv.Itoa(p.PID)+": "+exeErr.Error())
		}
	} else {
		deleted := strings.HasSuffix(exe, " (deleted)")
		exe = strings.TrimSuffix(exe, " (deleted)")
		switch {
		case strings.HasPrefix(exe, "/memfd:"):
			add(ExeMemfd, "it runs "+exe+", a file that exists only in memory")
		case deleted:
			add(ExeDeleted, exe+" was deleted or replaced after the process started")
		}
		if !strings.HasPrefix(exe, "/memfd:") {
			r.pathSigns(p, dir, exe, deleted, addSign, &warnings)
		}
	}
	if name := mimics(p); name != "" {
		add(KernelNameMimic, "it is named "+quote(name)+", like a kernel thread, but runs "+quote(exe))
	}
	if lib, err := preload(dir); err != nil {
		warnings = append(warnings, "could not read the environment of pid "+strconv.Itoa(p.PID)+": "+err.Error())
	} else if lib != "" {
		add(LDPreload, lib)
	}
	return out, warnings
}

// pathSigns are the signs of where the binary lives and whose it is.
func (r *Reader) pathSigns(p *sockets.Process, dir, exe string, deleted bool, addSign func(Sign), warnings *[]string) {
	add := func(c Code, detail string) { addSign(Sign{Code: c, Detail: detail, Risk: c.Risk()}) }
	if writableDir(dir+"/root", path.Dir(exe)) {
		add(ExeInWritableDir, "it runs "+quote(exe)+", in a directory any user can write to")
	}
	impostor := func(want string) bool {
		return want != "" && !deleted && (!sameProgram(want, path.Base(exe)) || !systemDir(path.Dir(exe)))
	}
	switch {
	case impostor(knownName(p.Name)):
		add(NameMismatch, "it calls itself "+quote(p.Name)+" but runs "+quote(exe))
	case impostor(knownName(claimedName(p))):
		add(NameMismatch, "its command line reads "+quote(p.Cmdline[0])+" but it runs "+quote(exe))
	}
	if deleted {
		return // the file on disk is not what runs
	}
	// The package database is this host's: a process under another root
	// (a container) runs files from another tree. A private mount
	// namespace on the same root still runs this host's files, and its
	// binary is read through /proc/PID/exe, whatever is mounted where.
	if !sameFile(dir+"/root", r.procRoot+"/self/root") {
		return
	}
	pkg, sum, err := r.packages.owner(exe)
	switch {
	case err != nil:
		*warnings = append(*warnings, err.Error())
	case pkg == "":
		c := Sign{Code: ExeUnpackaged, Detail: "no installed package owns " + quote(exe), Risk: ExeUnpackaged.Risk()}
		if strings.HasPrefix(exe, "/usr/local/") || strings.HasPrefix(exe, "/opt/") {
			c.Risk, c.Detail = catalog.Low, c.Detail+" (installed by hand where admins do)"
		}
		addSign(c)
	case sum.hex != "":
		got, err := r.packages.hash(dir+"/exe", sum.algo)
		if err != nil {
			*warnings = append(*warnings, "could not check "+exe+": "+err.Error())
		} else if got != sum.hex {
			algo := strings.ToUpper(sum.algo)
			add(ExeModified, quote(exe)+" differs from what package "+pkg+" installed ("+algo+" "+got+", package "+sum.hex+")")
		}
	}
}

// Prune forgets the processes that are not live, so the cache follows
// the box.
func (r *Reader) Prune(live func(pid int, start uint64) bool) {
	for k := range r.byProc {
		if !live(k.pid, k.start) {
			delete(r.byProc, k)
		}
	}
}

// writableDir reports whether dir, under the process's root, is one any
// user can write to.
func writableDir(root, dir string) bool {
	switch {
	case dir == "/tmp", dir == "/var/tmp", dir == "/dev/shm",
		strings.HasPrefix(dir, "/tmp/"), strings.HasPrefix(dir, "/var/tmp/"), strings.HasPrefix(dir, "/dev/shm/"):
		return true
	}
	fi, err := os.Stat(root + dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Mode&0o002 != 0
}

// sameFile reports whether two paths name one file (device and inode).
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
