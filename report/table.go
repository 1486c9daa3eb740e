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
var tableHeader = []string{"PROTO", "STATE", "LOCAL", "REMOTE", "USER", "PID", "PROCESS", "WHERE", "SERVICE", "REACH", "VERDICT"}

// WriteTable writes the judged sockets as an aligned table like `ss
// -tulpn`, packet and raw sockets after them (as ss -0 and -w show them)
// and the eBPF programs on interfaces last, WHERE naming the container or network namespace each lives in
// and REACH who the firewall lets open a connection to a listener (public,
// internal, host, none or unknown). Owners show as "-" when no process
// holds the socket and "?" when
// the owner could not be read (complete is false). Text from processes is
// made visible, never interpreted, and columns are padded by display
// width, so wide characters in process names keep the columns aligned.
//
// width, when not 0, is the terminal's: the widest text columns (PROCESS,
// USER, WHERE, SERVICE) are cut with "…" until the table fits, so that
// lines do not wrap; addresses, ports and verdicts are never cut.
func WriteTable(w io.Writer, snap *sockets.Snapshot, judged []verdict.Judged, pl Portless, containers *container.Index, width int) error {
	rows := make([][]string, 0, len(judged)+len(pl.Raw)+len(pl.Programs)+1)
	rows = append(rows, tableHeader)
	for i := range judged {
		s, v := judged[i].Socket, judged[i].Verdict
		where := orDash(snap.Namespace(s.NetNS).Label())
		if c := containers.Of(s); c != nil {
			where = safetext.Visible(c.Label())
		}
		rows = append(rows, append(tableRow(s, snap.Complete), where, orDash(v.Service), orDash(string(v.Reach())), v.Label()))
	}
	for i := range pl.Raw {
		rows = append(rows, rawRow(snap, &pl.Raw[i], containers))
	}
	for i := range pl.Programs {
		rows = append(rows, programRow(snap, &pl.Programs[i]))
	}
	return writeAligned(w, rows, width, cuttable)
}

// writeAligned writes rows (the first is the header) padded by display
// width, two spaces between columns. width, when not 0, is the
// terminal's: the cuttable columns are narrowed, widest first, and their
// cells cut with "…" until the table fits.
func writeAligned(w io.Writer, rows [][]string, width int, cuttable []int) error {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], ansi.StringWidth(cell))
		}
	}
	if width > 0 {
		fitWidths(widths, width, cuttable)
		for _, r := range rows {
			for i, cell := range r {
				if ansi.StringWidth(cell) > widths[i] {
					r[i] = ansi.Truncate(cell, widths[i], "…")
				}
			}
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

// cuttable are the columns fitWidths may narrow, by index in tableHeader:
// PROCESS, USER, WHERE, SERVICE.
var cuttable = []int{6, 4, 7, 8}

// fitWidths narrows the widest cuttable column, one cell at a time, down
// to 5 cells each, until the table (two spaces between columns) fits.
func fitWidths(widths []int, width int, cuttable []int) {
	total := func() int {
		n := 2 * (len(widths) - 1)
		for _, w := range widths {
			n += w
		}
		return n
	}
	for total() > width {
		widest := -1
		for _, i := range cuttable {
			if widths[i] > 5 && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return // as narrow as it goes: the terminal wraps the rest
		}
		widths[widest]--
	}
}
