package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// At 80×24 the dialog has about nine lines: the question is cut short,
// never what the keys do — how long to block, and closing too.
func TestBlockDialogChoicesAlwaysShow(t *testing.T) {
	lines := []string{"peer     198.51.100.7: its new and open connections are dropped, here and to the containers behind this host",
		"where    nftables table inet portwarden (your own tables are not touched); the block ends by itself"}
	for range 5 {
		lines = append(lines, "open     tcp 198.51.100.1:22-198.51.100.7:50000 held by sshd (pid 812)")
	}
	d := newBlockDialog(NewStyles(false), "Block 198.51.100.7?", lines, 6, func(time.Duration, bool) tea.Cmd { return nil })
	for _, size := range [][2]int{{80, 9}, {60, 6}, {120, 20}} {
		d.SetSize(size[0], size[1])
		view := d.View()
		text := ansi.Strip(strings.Join(view, "\n"))
		if len(view) != size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(view))
		}
		for _, want := range []string{"also close the 6 open connections", "10 minutes", "1 hour", "until unblocked", "any other key: no"} {
			if !strings.Contains(text, want) {
				t.Errorf("%dx%d: %q is not shown:\n%s", size[0], size[1], want, text)
			}
		}
	}
}
