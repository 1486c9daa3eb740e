package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFile: what the config file sets, a flag overrides; an unknown
// key or a bad value is bad usage naming its line, and changes nothing.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.toml")
	base := filepath.Join(dir, "from-config.toml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# set once per box\nbaseline = \"" + base + "\"\naudit_log = \"" + filepath.Join(dir, "audit.log") + "\"\ninternal_networks = [\"198.51.100.0/24\"]\n")
	// baseline add writes to the config's baseline, and records to its log.
	if out, errOut, code := runCLI(t, "baseline", "add", "--config", conf, "--reason", "lab", "tcp/8080"); code != 0 || !strings.Contains(out, base) {
		t.Fatalf("baseline add with a config: exit %d %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.log")); err != nil {
		t.Errorf("audit_log from the config was not used: %v", err)
	}
	// A flag wins over the file.
	other := filepath.Join(dir, "from-flag.toml")
	if out, _, code := runCLI(t, "baseline", "add", "--config", conf, "--baseline", other, "--reason", "lab", "tcp/8081"); code != 0 || !strings.Contains(out, other) {
		t.Errorf("--baseline did not override the config: exit %d %s", code, out)
	}
	for _, c := range []struct{ text, want string }{
		{"interval = \"2s\"\ncolour = true\n", "config.toml:2: unknown key \"colour\""},
		{"fail_on = \"severe\"\n", "config.toml:1: fail_on"},
		{"interval = \"soon\"\n", "config.toml:1: interval"},
		{"baseline = [\n", "config.toml:"},
	} {
		write(c.text)
		_, errOut, code := runCLI(t, "check", "--config", conf, "--baseline", base)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("config %q: exit %d, stderr %q; want 2 and %q", c.text, code, errOut, c.want)
		}
	}
	if _, errOut, code := runCLI(t, "snapshot", "--config", filepath.Join(dir, "missing.toml")); code != 2 || !strings.Contains(errOut, "config") {
		t.Errorf("a --config that does not exist: exit %d %q", code, errOut)
	}
}

// TestExampleConfig: the config the packages ship reads without error.
func TestExampleConfig(t *testing.T) {
	if err := applyConfig(Root(nil, nil), "../packaging/config.toml", true); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../packaging/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	for key := range configKeys {
		if !strings.Contains(string(text), key+" =") {
			t.Errorf("the example config does not show %s", key)
		}
	}
}
