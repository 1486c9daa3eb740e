package cli

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestCheckFailsOnWhatHasNoPort runs the real binary's check in a
// namespace whose listeners are all in the baseline, beside a
// magic-packet backdoor and an XDP program no known tool holds: check
// exits 1 naming both, in text and JSON; once both are gone, 0.
func TestCheckFailsOnWhatHasNoPort(t *testing.T) {
	f := newNSFixture(t)
	base := filepath.Join(t.TempDir(), "baseline.toml")
	if out, errOut, code := f.run(t, "baseline", "init", "--baseline", base); code != 0 {
		t.Fatalf("baseline init: exit %d %s%s", code, out, errOut)
	}
	door := sockettest.MagicDoorForTest(t, f.peer.Name)
	// A real XDP program on the namespace's lo, held by this test.
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "pw_knock", Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	var xdp link.Link
	if err := f.peer.Do(func() error {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		xdp, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: lo.Index, Flags: link.XDPGenericMode})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer xdp.Close()

	out, errOut, code := f.run(t, "check", "--baseline", base)
	if code != 1 || !strings.Contains(out, "packet and raw sockets (1)") || !strings.Contains(out, "magic-packet-filter") ||
		!strings.Contains(out, "eBPF programs on interfaces (1)") || !strings.Contains(out, "pw_knock") || strings.Contains(out, "unexpected listeners") {
		t.Errorf("check: exit %d, want 1 naming the backdoor and the program:\n%s%s", code, out, errOut)
	}
	out, _, _ = f.run(t, "check", "--json", "--baseline", base)
	var doc struct {
		OK        bool `json:"ok"`
		RawSigned []struct {
			Filter struct {
				Triggers []string `json:"triggers"`
			} `json:"filter"`
		} `json:"raw_signed"`
		Programs []struct {
			Hook string `json:"hook"`
			Name string `json:"name"`
		} `json:"unexpected_programs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.OK || len(doc.RawSigned) != 1 || len(doc.RawSigned[0].Filter.Triggers) != 1 ||
		len(doc.Programs) != 1 || doc.Programs[0].Hook != "xdp (generic)" || doc.Programs[0].Name != "pw_knock" {
		t.Errorf("check --json: %v\n%s", err, out)
	}

	door.Process.Kill()
	door.Wait()
	xdp.Close()
	if out, errOut, code := f.run(t, "check", "--baseline", base); code != 0 {
		t.Errorf("both gone: exit %d, want 0:\n%s%s", code, out, errOut)
	}
}
