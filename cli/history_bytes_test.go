package cli

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/sockets"
)

// TestHistoryShowsAndSortsBytes: history prints what each connection
// carried (a dash where nothing was counted), sorts the most first with
// --sort bytes, gives rx_bytes and tx_bytes in JSON (null where not
// counted), and refuses a sort it does not know.
func TestHistoryShowsAndSortsBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := history.Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	conn := func(port uint16, rx, tx uint64, counted bool) *history.Lifetime {
		return &history.Lifetime{Kind: history.Connection, Proto: sockets.TCP, Direction: history.Outbound,
			Local: netip.MustParseAddrPort("192.0.2.1:40000"), Remote: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.9"), port),
			ServicePort: port, Owner: history.Owner{PID: 7, Process: "rsync", User: "root"},
			FirstSeen: t0.Add(time.Duration(port) * time.Second), LastSeen: t0.Add(time.Duration(port+1) * time.Second),
			Source: history.EBPF, Bytes: sockets.Traffic{Rx: rx, Tx: tx}, Counted: counted}
	}
	if err := db.Write([]*history.Lifetime{conn(1, 10, 20, true), conn(2, 0, 0, false), conn(3, 5<<20, 200<<20, true)}, history.Counters{}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out, errOut, code := runCLI(t, "history", "--db", path, "--sort", "bytes")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.Contains(lines[0], "RX") || !strings.Contains(lines[1], "5.0M") ||
		!strings.Contains(lines[1], "200M") || !strings.Contains(lines[1], ":3 ") || !strings.Contains(lines[3], ":2 ") {
		t.Fatalf("--sort bytes: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = runCLI(t, "history", "--db", path, "--json")
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		got = append(got, m)
	}
	if code != 0 || len(got) != 3 || got[0]["tx_bytes"] != float64(20) || got[1]["rx_bytes"] != nil || got[2]["tx_bytes"] != float64(200<<20) {
		t.Fatalf("--json: exit %d, %v", code, got)
	}
	if _, errOut, code := runCLI(t, "history", "--db", path, "--sort", "size"); code != 2 || !strings.Contains(errOut, "first-seen, bytes, rx, tx") {
		t.Fatalf("--sort size: exit %d, %s", code, errOut)
	}
}
