package session

import (
	"os"
	"strconv"
	"strings"
)

// proc is what Find needs of one process.
type proc struct {
	pid, ppid int
	name      string // comm
	uid       uint32 // the real user: under sudo, who ran it
	tty       uint64 // controlling terminal (tty_nr); 0 for none
}

// processTable reads every process under procRoot. A process that ends
// while it is read is left out; nothing here fails.
func processTable(procRoot string) map[int]*proc {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	table := make(map[int]*proc, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if p, ok := readProc(procRoot, pid); ok {
			table[pid] = p
		}
	}
	return table
}

// readProc reads comm, ppid and tty_nr from /proc/PID/stat and the real
// user from /proc/PID/status.
func readProc(procRoot string, pid int) (*proc, bool) {
	dir := procRoot + "/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return nil, false
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 5 {
		return nil, false
	}
	p := &proc{pid: pid, name: s[open+1 : closing]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.tty, _ = strconv.ParseUint(f[4], 10, 64)
	if b, err := os.ReadFile(dir + "/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					uid, _ := strconv.ParseUint(f[0], 10, 32)
					p.uid = uint32(uid)
				}
				break
			}
		}
	}
	return p, true
}

// ttyName names a controlling terminal number as ps does: "pts/3",
// "tty1", or "tty(MAJOR:MINOR)" for others.
func ttyName(nr uint64) string {
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case nr == 0:
		return ""
	case major >= 136 && major <= 143: // Unix98 pty slaves
		return "pts/" + strconv.FormatUint((major-136)*256+minor, 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatUint(minor, 10)
	}
	return "tty(" + strconv.FormatUint(major, 10) + ":" + strconv.FormatUint(minor, 10) + ")"
}

// sshConnectionEnv reads SSH_CONNECTION ("client port server port") from
// /proc/PID/environ; "" when absent or unreadable.
func sshConnectionEnv(procRoot string, pid int) string {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "SSH_CONNECTION="); ok {
			return v
		}
	}
	return ""
}
