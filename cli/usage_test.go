package cli

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestREADMEUsageMatchesCommands keeps README's Usage section and the
// commands' own definitions from drifting apart: the block under "##
// Usage" must be exactly Synopsis, and every flag of every command must be
// named somewhere in README.
func TestREADMEUsageMatchesCommands(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
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
			if !strings.Contains(readme, name) {
				t.Errorf("%s %s is not in README", c.CommandPath(), name)
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
