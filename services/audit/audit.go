// Package audit records every action portwarden takes: who, when, what, on
// which process, and how it went, as JSON lines in a file and in syslog.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Record is one action.
type Record struct {
	Time time.Time `json:"time"`
	User string    `json:"user"` // the admin: the human behind sudo and su (Admin)
	UID  int       `json:"uid"`
	// Effective is the user portwarden ran as, when not the admin ("root"
	// under sudo or su).
	Effective string   `json:"effective_user,omitempty"`
	Action    string   `json:"action"` // kill, mark, unmark, disable
	Target    *Process `json:"target,omitempty"`
	Detail    string   `json:"detail,omitempty"` // the signal, the baseline entry, the steps
	Result    string   `json:"result"`           // done, refused, failed
	Error     string   `json:"error,omitempty"`
}

// Process identifies the process acted on.
type Process struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
	Name       string `json:"name"`
	Exe        string `json:"exe"`
	Unit       string `json:"unit,omitempty"`
}

// DefaultPath is /var/log/portwarden/audit.log for root, else
// $XDG_STATE_HOME/portwarden/audit.log (~/.local/state by default).
func DefaultPath() string {
	if os.Geteuid() == 0 {
		return "/var/log/portwarden/audit.log"
	}
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "portwarden", "audit.log")
}

// Admin is the human behind this portwarden: the kernel's login uid
// (which sudo and su keep), else sudo's SUDO_USER, else the user it runs as.
func Admin() string {
	if uid, ok := loginUID(); ok {
		return userName(uid)
	}
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	return userName(os.Getuid())
}

// loginUID reads the kernel's login uid of this process: set when the
// user logged in (pam_loginuid), kept across sudo and su, changed by
// neither. It is unset (4294967295) for what no login started.
func loginUID() (int, bool) {
	b, err := os.ReadFile("/proc/self/loginuid")
	if err != nil {
		return 0, false
	}
	uid, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || uid == 4294967295 {
		return 0, false
	}
	return int(uid), true
}

// userName names a uid, or writes the number when no user has it.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// Log appends records to a file (and to syslog, where there is one).
type Log struct{ Path string }

// Append writes r as one JSON line, in one write, and syncs it. The time
// and user are filled in when empty.
func (l Log) Append(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.User == "" {
		r.User, r.UID = Admin(), os.Getuid()
		if me := userName(os.Geteuid()); me != r.User {
			r.Effective = me
		}
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o750); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	toSyslog(string(line[:len(line)-1]))
	return nil
}
