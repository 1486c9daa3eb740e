//go:build linux

package sockettest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
)

// Python is a Python script a test runs in a namespace and talks to line
// by line: the test writes a command, the script answers with a line when
// its sockets are as asked.
type Python struct {
	Cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

// PythonForTest starts Debian's python3 running code in namespace ns. It
// is killed when t ends, on failure too.
func PythonForTest(t testing.TB, ns *Namespace, code string) *Python {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "/usr/bin/python3", "-c", code)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	return &Python{Cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
}

// Say writes a line to the script and returns the line it answers.
func (p *Python) Say(t testing.TB, line string) string {
	t.Helper()
	fmt.Fprintln(p.stdin, line)
	return p.Line(t)
}

// Line returns the script's next line; it fails t when the script ends.
func (p *Python) Line(t testing.TB) string {
	t.Helper()
	if !p.lines.Scan() {
		t.Fatalf("the python script ended (%v)", p.lines.Err())
	}
	return p.lines.Text()
}

// Expect fails t unless the script's next line is want.
func (p *Python) Expect(t testing.TB, want string) {
	t.Helper()
	if got := p.Line(t); got != want {
		t.Fatalf("the python script said %q, want %q", got, want)
	}
}
