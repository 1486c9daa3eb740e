package report

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// tableHeader names the columns of WriteTable.
var tableHeader = []string{"PROTO", "STATE", "LOCAL", "REMOTE", "USER", "PID", "PROCESS", "WHERE", "SERVICE", "VERDICT"}

// WriteTable writes the judged sockets as an aligned table like `ss
// -tulpn`, WHERE naming the container or network namespace each lives in. Owners show as "-" when no process holds the socket and "?" when
// the owner could not be read (complete is false). Text from processes is
// made visible, never interpreted, and columns are padded by display
// width, so wide characters in process names keep the columns aligned.
func WriteTable(w io.Writer, snap *sockets.Snapshot, judged []verdict.Judged, containers *container.Index) error {
	rows := make([][]string, 0, len(judged)+1)
	rows = append(rows, tableHeader)
	for i := range judged {
		s, v := judged[i].Socket, &judged[i].Verdict
		where := orDash(snap.Namespace(s.NetNS).Label())
		if c := containers.Of(s); c != nil {
			where = safetext.Visible(c.Label())
		}
		rows = append(rows, append(tableRow(s, snap.Complete), where, orDash(v.Service), v.Label()))
	}
	widths := make([]int, len(tableHeader))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], ansi.StringWidth(cell))
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, r := range rows {
		for i, cell := range r {
			bw.WriteString(cell)
			if i < len(r)-1 {
				bw.WriteString(strings.Repeat(" ", widths[i]-ansi.StringWidth(cell)+2))
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
