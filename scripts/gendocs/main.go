// Command gendocs writes portwarden's man pages and shell completions from
// the command line's own definitions (package cli), so they cannot drift
// from --help. Release builds run it before packaging:
//
//	go run ./scripts/gendocs DIR
//
// writes DIR/man/portwarden*.1 and DIR/completions/{portwarden.bash,
// _portwarden, portwarden.fish}.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/portwarden/portwarden/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/gendocs DIR")
		os.Exit(2)
	}
	if err := generate(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

func generate(dir string) error {
	root := cli.Root(io.Discard, io.Discard)
	root.DisableAutoGenTag = true // the same input writes the same pages
	man := filepath.Join(dir, "man")
	comp := filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	date := time.Unix(0, 0).UTC()
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		var sec int64
		if _, err := fmt.Sscan(epoch, &sec); err == nil {
			date = time.Unix(sec, 0).UTC()
		}
	}
	header := &doc.GenManHeader{Title: "PORTWARDEN", Section: "1", Source: "portwarden", Manual: "portwarden manual", Date: &date}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	for name, gen := range map[string]func(string) error{
		"portwarden.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
		"_portwarden":     root.GenZshCompletionFile,
		"portwarden.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
	} {
		if err := gen(filepath.Join(comp, name)); err != nil {
			return fmt.Errorf("completion %s: %w", name, err)
		}
	}
	return nil
}
