package sockets

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// The fixtures under testdata/procnet were captured from /proc/net on a
// 6.18 kernel with Python holding a v4 listener and pair, a v6 pair, a
// dual-stack socket bound to ::ffff:127.0.0.1 (IPv4-mapped) with a pair,
// and UDP sockets bound and connected. The *_header_only, *_truncated and
// *_extra_columns files are cut or extended from them.

func parseFixture(t *testing.T, name string, proto Proto, ipv6 bool) ([]Socket, int) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "procnet", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	socks, bad, err := parseProcNet(f, proto, ipv6, nil)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return socks, bad
}

func find(socks []Socket, inode uint64) *Socket {
	for i := range socks {
		if socks[i].Inode == inode {
			return &socks[i]
		}
	}
	return nil
}

func TestParseProcNetFixtures(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		file      string
		proto     Proto
		ipv6      bool
		count     int
		malformed int
		want      []Socket // checked by inode
	}{
		{"tcp", TCP, false, 5, 0, []Socket{
			{Proto: TCP, Local: ap("127.0.0.1:36167"), Remote: ap("0.0.0.0:0"), State: Listen, Inode: 9326},
			{Proto: TCP, Local: ap("0.0.0.0:2024"), Remote: ap("0.0.0.0:0"), State: Listen, Inode: 1061},
		}},
		{"tcp6", TCP, true, 5, 0, []Socket{
			{Proto: TCP, Local: ap("[::1]:46821"), Remote: ap("[::]:0"), State: Listen, Inode: 9329},
			{Proto: TCP, Local: ap("[::ffff:127.0.0.1]:49673"), Remote: ap("[::]:0"), State: Listen, Inode: 9332},
			{Proto: TCP, Local: ap("[::ffff:127.0.0.1]:49673"), Remote: ap("[::ffff:127.0.0.1]:38158"), State: Established, Inode: 9334},
			{Proto: TCP, Local: ap("[::1]:38284"), Remote: ap("[::1]:46821"), State: Established, Inode: 9330},
		}},
		{"udp", UDP, false, 2, 0, []Socket{
			{Proto: UDP, Local: ap("127.0.0.1:52247"), Remote: ap("127.0.0.1:38890"), State: Established, Inode: 9336},
		}},
		{"udp6", UDP, true, 1, 0, nil},
		{"tcp_header_only", TCP, false, 0, 0, nil},
		{"tcp_empty", TCP, false, 0, 0, nil},
		{"tcp_truncated", TCP, false, 2, 1, nil},
		{"tcp_extra_columns", TCP, false, 1, 0, []Socket{
			{Proto: TCP, Local: ap("127.0.0.1:36167"), Remote: ap("0.0.0.0:0"), State: Listen, Inode: 9326},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			socks, bad := parseFixture(t, tt.file, tt.proto, tt.ipv6)
			if len(socks) != tt.count || bad != tt.malformed {
				t.Fatalf("got %d sockets and %d malformed, want %d and %d", len(socks), bad, tt.count, tt.malformed)
			}
			for _, w := range tt.want {
				got := find(socks, w.Inode)
				if got == nil {
					t.Fatalf("inode %d missing", w.Inode)
				}
				if got.Proto != w.Proto || got.Local != w.Local || got.Remote != w.Remote || got.State != w.State {
					t.Errorf("inode %d: got %v %v %v %v, want %v %v %v %v", w.Inode,
						got.Proto, got.Local, got.Remote, got.State, w.Proto, w.Local, w.Remote, w.State)
				}
			}
			for _, s := range socks {
				if (s.IPVersion() == 6) != tt.ipv6 {
					t.Errorf("%v: IP version %d in a v6=%v table", s.Local, s.IPVersion(), tt.ipv6)
				}
			}
		})
	}
}

func TestParseProcNetLineRejects(t *testing.T) {
	bad := []string{
		"",
		"   0: 0100007F:8D47",
		"   0: 0100007F:8D47 00000000:0000 0A",
		"   0: 0100007F:8D4 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 9326",
		"   0: 0100007G:8D47 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 9326",
		"   0: 0100007F:8D47 00000000:0000 FF 00000000:00000000 00:00000000 00000000 0 0 9326",
		"   0: 0100007F:8D47 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 9326",
		"   0: 0100007F:8D47 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 -1",
		"   0 0100007F:8D47 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 9326",
	}
	for _, line := range bad {
		if s, err := parseProcNetLine([]byte(line), TCP, false); err == nil {
			t.Errorf("%q parsed as %+v, want an error", line, s)
		}
	}
}

func FuzzParseProcNetLine(f *testing.F) {
	for _, name := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile(filepath.Join("testdata", "procnet", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, name == "tcp6" || name == "udp6")
	}
	f.Fuzz(func(t *testing.T, table []byte, ipv6 bool) {
		socks, _, err := parseProcNet(bytesReader(table), TCP, ipv6, nil)
		if err != nil {
			t.Fatalf("an in-memory table gave an I/O error: %v", err)
		}
		for _, s := range socks {
			if !s.Local.IsValid() || !s.Remote.IsValid() || (s.IPVersion() == 6) != ipv6 {
				t.Fatalf("accepted an invalid socket %+v", s)
			}
		}
	})
}
