package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerate writes the man pages and completions, and checks them with
// the tools that will read them: man renders the page, and bash knows the
// completion once the file is sourced.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"portwarden.1", "portwarden-check.1", "portwarden-kill.1", "portwarden-baseline-add.1"} {
		if _, err := os.Stat(filepath.Join(dir, "man", page)); err != nil {
			t.Errorf("man page %s: %v", page, err)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		cmd := exec.Command("man", "-l", filepath.Join(dir, "man", "portwarden-check.1"))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--fail-on-external") {
			t.Errorf("man -l portwarden-check.1: %v\n%s", err, out)
		}
	}
	out, err := exec.Command("bash", "-c", `source "$1" && complete -p portwarden`, "bash", filepath.Join(dir, "completions", "portwarden.bash")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "portwarden") {
		t.Errorf("bash completion: %v\n%s", err, out)
	}
	for _, f := range []string{"_portwarden", "portwarden.fish"} {
		if b, err := os.ReadFile(filepath.Join(dir, "completions", f)); err != nil || !strings.Contains(string(b), "portwarden") {
			t.Errorf("completion %s: %v", f, err)
		}
	}
}

// TestUnits checks the packaged systemd units with systemd's own
// verifier: every directive known and well-formed.
func TestUnits(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	dir := t.TempDir()
	for _, name := range []string{"portwarden-check.service", "portwarden-check.timer"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "packaging", name))
		if err != nil {
			t.Fatal(err)
		}
		// The binary is not installed here; the man page neither.
		text := strings.ReplaceAll(string(b), "/usr/bin/portwarden", "/bin/true")
		text = strings.ReplaceAll(text, "Documentation=man:portwarden-check(1)\n", "")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "portwarden-check.service"), filepath.Join(dir, "portwarden-check.timer")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
