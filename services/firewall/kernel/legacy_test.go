package kernel

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLegacyTables(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ip_tables_names"), []byte("nat\nfilter\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ip6_tables_names"), []byte(""), 0o644)
	if got := LegacyTables(dir); !slices.Equal(got, []string{"nat", "filter"}) {
		t.Errorf("LegacyTables = %v", got)
	}
	if got := LegacyTables(filepath.Join(dir, "missing")); len(got) != 0 {
		t.Errorf("no files: %v", got)
	}
	// The host's own: whatever it holds, reading it must not fail.
	_ = LegacyTables("/proc/net")
}
