package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestREADMEUsageMatchesCommands keeps README's Usage section and the
// commands' own definitions from drifting apart: the block under "##
// Usage" must be exactly Synopsis, and every flag of every command must be
// named somewhere in README or docs/.
func TestREADMEUsageMatchesCommands(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	docs, _ := filepath.Glob("../docs/*.md")
	everything := readme
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		everything += string(b)
	}
	_, usage, ok := strings.Cut(readme, "## Usage\n\n```\n")
	if !ok {
		t.Fatal("README has no ## Usage block")
	}
	usage, _, _ = strings.Cut(usage, "```")
	got := strings.Split(strings.TrimSpace(usage), "\n")
	if want := Synopsis(); !slices.Equal(got, want) {
		t.Errorf("README's Usage block:\n%s\nwant (from the commands):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	root := Root(nil, nil)
	cmds := append(root.Commands(), root)
	for len(cmds) > 0 {
		c := cmds[0]
		cmds = append(cmds[1:], c.Commands()...)
		for _, name := range flagNames(c) {
			if !strings.Contains(everything, name) {
				t.Errorf("%s %s is not in README or docs/", c.CommandPath(), name)
			}
		}
	}
}

// flagNames lists a command's own flags, and those it inherits.
func flagNames(c *cobra.Command) []string {
	var names []string
	visit := func(f *pflag.Flag) {
		switch {
		case f.Name == "help":
		case f.Shorthand != "":
			names = append(names, "-"+f.Shorthand+"`/`--"+f.Name) // README names both
		default:
			names = append(names, "--"+f.Name)
		}
	}
	c.LocalFlags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	return names
}

// TestDocLinksResolve: every relative link in README, CONTRIBUTING and
// docs/ names a file that exists, and an anchor, where one is given, a
// heading of that file.
func TestDocLinksResolve(t *testing.T) {
	pages, _ := filepath.Glob("../docs/*.md")
	pages = append(pages, "../README.md", "../CONTRIBUTING.md", "../services/README.md")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s links to %s: %v", page, target, err)
				continue
			}
			if anchor != "" && !slices.Contains(anchors(string(body)), anchor) {
				t.Errorf("%s links to %s: no such heading in %s", page, target, path)
			}
		}
	}
}

// anchors lists a Markdown file's heading anchors as GitHub makes them.
func anchors(md string) []string {
	var out []string
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ' || r == '-':
				b.WriteRune('-')
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}
