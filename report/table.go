package report

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/safetext"
)

// tableHeader names the columns of WriteTable.
var tableHeader = []string{"PROTO", "STATE", "LOCAL", "REMOTE", "USER", "PID", "PROCESS", "SERVICE", "VERDICT"}

// WriteTable writes the sockets and their verdicts as an aligned table
// like `ss -tulpn`. Owners show as "-" when no process holds the socket and
// "?" when the owner could not be read (snapshot incomplete). Text from
// processes is made visible, never interpreted.
func WriteTable(w io.Writer, snap *sockets.Snapshot, verdicts []verdict.Verdict) error {
	rows := make([][]string, 0, len(snap.Sockets)+1)
	rows = append(rows, tableHeader)
	for i := range snap.Sockets {
		rows = append(rows, append(tableRow(&snap.Sockets[i], snap.Complete), orDash(verdicts[i].Service), Label(&verdicts[i])))
	}
	widths := make([]int, len(tableHeader))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, r := range rows {
		for i, cell := range r {
			bw.WriteString(cell)
			if i < len(r)-1 {
				bw.WriteString(strings.Repeat(" ", widths[i]-len(cell)+2))
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func tableRow(s *sockets.Socket, complete bool) []string {
	remote := s.Remote.String()
	if s.Listening() {
		remote = "*:*"
	}
	user, pids, names := "-", "-", "-"
	if len(s.Processes) == 0 && !complete && s.Inode != 0 {
		user, pids, names = "?", "?", "?"
	}
	if len(s.Processes) > 0 {
		var u, p, n []string
		for _, proc := range s.Processes {
			p = append(p, strconv.Itoa(proc.PID))
			u = appendUnique(u, safetext.Visible(proc.User))
			n = appendUnique(n, safetext.Visible(proc.Name))
		}
		user, pids, names = strings.Join(u, ","), strings.Join(p, ","), strings.Join(n, ",")
	}
	proto := s.Proto.String()
	if s.IPVersion() == 6 {
		proto += "6"
	}
	return []string{proto, s.StateName(), s.Local.String(), remote, user, pids, names}
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Label sums a verdict up in a few words that need no colour to read:
// "UNEXPECTED critical", "EXTERNAL", "expected", or "-". The risk is named
// when there is one.
func Label(v *verdict.Verdict) string {
	risk := ""
	if v.Risk > catalog.None {
		risk = " " + v.Risk.String()
	}
	switch {
	case v.Unexpected:
		return "UNEXPECTED" + risk
	case v.External:
		return "EXTERNAL" + risk
	case v.Baseline != nil:
		return "expected"
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
