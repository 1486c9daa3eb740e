package ui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/portwarden/portwarden/sockets"
)

// shortenAddr fits "addr:port" (or "[v6]:port", with a trailing " *" for a
// wildcard bind) into width by cutting the middle of the address: the
// port, what an admin needs most, is never cut.
func shortenAddr(cell string, width int) string {
	if ansi.StringWidth(cell) <= width {
		return cell
	}
	mark := ""
	if rest, ok := strings.CutSuffix(cell, " *"); ok {
		cell, mark = rest, " *"
		if len(cell)+len(mark) > width {
			mark = "" // the colour and the detail pane still say it
		}
	}
	i := strings.LastIndexByte(cell, ':')
	if i < 0 {
		return ansi.Truncate(cell, width, "…")
	}
	host, port := cell[:i], cell[i:]
	budget := width - len(port) - len(mark)
	if budget < 3 {
		return ansi.TruncateLeft(cell, len(cell)-width+1, "…") // the port's end, at least
	}
	if len(host) <= budget {
		return host + port + mark
	}
	// Keep the start and the end of the address, the last group whole
	// where there is room: "[2001:db8…::7]:443", "198.51…0.7:50022".
	end := (budget - 1) / 2
	if last := len(host) - strings.LastIndexAny(host, ":.") - 1; last < budget-2 {
		end = max(end, last+1)
	}
	start := budget - 1 - end
	return host[:start] + "…" + host[len(host)-end:] + port + mark
}

// shortenState fits a state into width: ss's short names ("ESTAB",
// "TIME-WAIT") first, then a cut.
func shortenState(cell string, width int) string {
	if ansi.StringWidth(cell) <= width {
		return cell
	}
	if short := sockets.ShortStateName(cell); ansi.StringWidth(short) <= width {
		return short
	}
	return ansi.Truncate(cell, width, "…")
}
