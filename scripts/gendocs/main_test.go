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
