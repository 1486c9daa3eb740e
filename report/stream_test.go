package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestStreamJSONKeepsOrderAcrossBlocks writes more sockets than two blocks
// hold, an odd number, and checks the document parses and lists every
// socket once, in order, as the fast encoder writes each alone.
func TestStreamJSONKeepsOrderAcrossBlocks(t *testing.T) {
	for _, n := range []int{0, 1, 2*streamBlock + 7} {
		snap := fixedSnapshot()
		base := snap.Sockets[0]
		snap.Sockets = nil
		for i := range n {
			s := base
			s.Local = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1000+i%60000))
			s.Inode = uint64(i + 1)
			snap.Sockets = append(snap.Sockets, s)
		}
		judged := assess(snap)
		var out bytes.Buffer
		if err := WriteJSON(&out, "h", snap, judged, Portless{}, nil); err != nil {
			t.Fatal(err)
		}
		var doc struct{ Sockets []json.RawMessage }
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("%d sockets: %v", n, err)
		}
		if len(doc.Sockets) != n {
			t.Fatalf("%d sockets written, want %d", len(doc.Sockets), n)
		}
		for i := range judged {
			want := (&socketEncoder{slow: slowJSON}).append(nil, &judged[i], snap.Namespace(judged[i].Socket.NetNS))
			if !bytes.Equal(doc.Sockets[i], want) {
				t.Fatalf("socket %d of %d:\n got %s\nwant %s", i, n, doc.Sockets[i], want)
			}
		}
	}
}

// failingWriter takes n bytes, then fails every write.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		w.n = 0
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestStreamJSONStopsOnAWriteError writes to a writer that fails midway:
// the error comes back and both encoders stop.
func TestStreamJSONStopsOnAWriteError(t *testing.T) {
	snap := fixedSnapshot()
	base := snap.Sockets[0]
	snap.Sockets = nil
	for i := range 8 * streamBlock {
		s := base
		s.Inode = uint64(i + 1)
		snap.Sockets = append(snap.Sockets, s)
	}
	judged := assess(snap)
	before := runtime.NumGoroutine()
	err := WriteJSON(&failingWriter{n: 200 << 10}, "h", snap, judged, Portless{}, nil)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("WriteJSON to a failing writer: %v, want disk full", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running after the error (%d before)", runtime.NumGoroutine(), before)
		}
		runtime.Gosched()
	}
}
