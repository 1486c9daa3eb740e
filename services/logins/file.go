package logins

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// DefaultFiles are the authentication logs of the usual syslog setups:
// Debian's and Ubuntu's, then Red Hat's and SUSE's.
var DefaultFiles = []string{"/var/log/auth.log", "/var/log/secure"}

// maxBacklog bounds how much of a log is read at the first look: its
// newest part. A larger log's older lines are said to be skipped.
const maxBacklog = 64 << 20

// maxLine bounds one line; a longer one is cut and its rest skipped.
const maxLine = 16 << 10

// File follows one syslog file: each Read adds the lines appended since
// the last, starting over when the file was rotated or truncated.
type File struct {
	path    string
	file    os.FileInfo // the file read last: another one is a rotation
	offset  int64
	partial []byte
	skipped int64 // bytes of backlog left unread at the first look
}

// OpenFile follows path. The file is opened only by Read.
func OpenFile(path string) *File { return &File{path: path} }

// Path is the file followed.
func (f *File) Path() string { return f.path }

// Skipped is how many bytes of the file's start were left unread because
// the log was longer than the backlog read.
func (f *File) Skipped() int64 { return f.skipped }

// Read adds the lines written since the last Read to t.
func (f *File) Read(t *Tally, now time.Time) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("read failed logins: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("read failed logins: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("read failed logins: %s is not a file", f.path)
	}
	if f.file == nil || !os.SameFile(f.file, st) || st.Size() < f.offset {
		// A new file (rotated) or a truncated one: from the start.
		f.file, f.offset, f.partial = st, 0, nil
		if st.Size() > maxBacklog {
			f.offset = st.Size() - maxBacklog
			f.skipped = f.offset
		}
	}
	if st.Size() == f.offset {
		return nil
	}
	if _, err := fh.Seek(f.offset, io.SeekStart); err != nil {
		return fmt.Errorf("read failed logins from %s: %w", f.path, err)
	}
	buf := make([]byte, 256<<10)
	first := f.skipped > 0 && f.offset == f.skipped
	for {
		n, err := fh.Read(buf)
		f.offset += int64(n)
		f.feed(t, buf[:n], now, &first)
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read failed logins from %s: %w", f.path, err)
		}
	}
}

// feed splits b into lines, keeping an unfinished last line for the next
// Read. skipFirst drops the first line of a backlog read from its middle.
func (f *File) feed(t *Tally, b []byte, now time.Time, skipFirst *bool) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(f.partial)+len(b) <= maxLine {
				f.partial = append(f.partial, b...)
			}
			return
		}
		line := b[:i]
		b = b[i+1:]
		if len(f.partial) > 0 {
			line = append(f.partial, line...)
			f.partial = f.partial[:0]
		}
		if *skipFirst {
			*skipFirst = false
			continue
		}
		AddLine(t, string(line), now)
	}
}

// AddLine adds one syslog file line to t.
func AddLine(t *Tally, line string, now time.Time) {
	when, ident, msg, ok := parseLine(line, now)
	if !ok {
		return
	}
	if service := ServiceOf(ident); service != "" {
		t.Add(service, msg, when)
	}
}
