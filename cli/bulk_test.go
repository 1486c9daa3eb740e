package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestCheckFailsOnBulkOutbound: Debian's python3, in a namespace of its
// own, sends 200 MiB to an external-looking peer in another and keeps the
// connection open. check fails naming the sign, the bytes and the peer;
// it passes when the baseline documents the destination ([[outbound]]) or
// acknowledges the sign for python's executable, and with the sign off or
// the threshold above what was sent.
func TestCheckFailsOnBulkOutbound(t *testing.T) {
	pair := sockettest.PairForTest(t, "pwbulk")
	pair.SinkForTest(t, 8443)
	client := pair.Client
	sender := sockettest.PythonForTest(t, client, `
import socket, sys
c = socket.create_connection(("198.51.100.7", 8443))
c.sendall(b"x" * (200 << 20))
print("sent", flush=True)
sys.stdin.read()`)
	sender.Expect(t, "sent")

	bin := buildBinary(t)
	dir := t.TempDir()
	check := func(baseline string, args ...string) (string, int) {
		t.Helper()
		base := filepath.Join(dir, "baseline.toml")
		if err := os.WriteFile(base, []byte(baseline), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runBin(t, "ip", append([]string{"netns", "exec", client.Name, bin, "check", "--netns", "self",
			"--baseline", base, "--audit-log", filepath.Join(dir, "audit.log")}, args...)...)
		return out + errOut, code
	}
	out, code := check("")
	t.Logf("check:\n%s", out)
	if code != 1 || !strings.Contains(out, "bulk-outbound") || !strings.Contains(out, "it sent 200M to 198.51.100.7") {
		t.Fatalf("check with 200 MiB sent out: exit %d\n%s", code, out)
	}
	python, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		baseline string
		args     []string
	}{
		"the destination documented": {baseline: "[[outbound]]\nto = \"198.51.100.7\"\nport = 8443\nreason = \"offsite backup\"\nowner = \"ops\"\nadded = 2026-12-06\n"},
		"the sign acknowledged":      {baseline: "[[sign]]\nsign = \"bulk-outbound\"\nexe = \"" + python + "\"\nreason = \"nightly backup\"\nowner = \"ops\"\nadded = 2026-12-06T00:00:00Z\n"},
		"the sign off":               {args: []string{"--bulk-outbound", "off"}},
		"a higher threshold":         {args: []string{"--bulk-outbound", "1GiB/10m"}},
	} {
		if out, code := check(c.baseline, c.args...); code != 0 {
			t.Errorf("%s: exit %d\n%s", name, code, out)
		}
	}
	if out, code := check("", "--bulk-outbound", "lots"); code != 2 || !strings.Contains(out, "--bulk-outbound") {
		t.Errorf("a bad --bulk-outbound: exit %d\n%s", code, out)
	}
}
