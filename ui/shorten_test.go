package ui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestShortenNeverCutsThePort: an address that does not fit loses the
// middle of its host part, never its port; states take ss's short names.
func TestShortenNeverCutsThePort(t *testing.T) {
	for _, tt := range []struct {
		cell  string
		width int
		port  string
	}{
		{"[2001:db8:100:42:0:0:0:7]:443", 18, "]:443"},
		{"[2001:db8:100::7]:50022", 15, "]:50022"},
		{"198.51.100.123:50022", 15, ":50022"},
		{"[fe80::1%eth0]:546 *", 14, ":546"},
	} {
		got := shortenAddr(tt.cell, tt.width)
		if w := ansi.StringWidth(got); w > tt.width || !strings.HasSuffix(strings.TrimSuffix(got, " *"), tt.port) || !strings.Contains(got, "…") {
			t.Errorf("shortenAddr(%q, %d) = %q (%d cells): want at most %d cells ending in %q", tt.cell, tt.width, got, w, tt.width, tt.port)
		}
	}
	if got := shortenAddr("127.0.0.1:6379", 20); got != "127.0.0.1:6379" {
		t.Errorf("an address that fits was changed: %q", got)
	}
	if got := shortenAddr("0.0.0.0:23 *", 10); got != "0.0.0.0:23" {
		t.Errorf("a wildcard mark that does not fit is dropped first: %q", got)
	}
	for cell, want := range map[string]string{"ESTABLISHED": "ESTAB", "TIME_WAIT": "TIME_WAIT", "CLOSE_WAIT": "CLOSE_WA…"} {
		width := 9
		if got := shortenState(cell, width); got != want {
			t.Errorf("shortenState(%q, %d) = %q, want %q", cell, width, got, want)
		}
	}
}
