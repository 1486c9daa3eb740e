//go:build unix

package audit

import "log/syslog"

// toSyslog copies a record to syslog (the journal, where systemd runs it),
// when a syslog socket is there; the file is the record of truth.
func toSyslog(line string) {
	w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_NOTICE, "portwarden")
	if err != nil {
		return
	}
	defer w.Close()
	w.Notice(line)
}
