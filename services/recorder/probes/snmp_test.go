package probes

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadCounters reads this machine's own /proc/net/snmp, and a copy of
// one captured from a real kernel (6.18).
func TestReadCounters(t *testing.T) {
	if _, err := ReadCounters("/proc/net/snmp"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snmp")
	text := "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n" +
		"Tcp: 1 200 120000 -1 1411106 1410370 241 2501980 0 6042106 6036278 21 0 1252323 0\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"Udp: 155 4 0 162 0 0 0 0 0\n" +
		"UdpLite: InDatagrams NoPorts InErrors\nUdpLite: 0 9 0\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCounters(path)
	if err != nil || c != (Counters{UDPNoPorts: 4, TCPResets: 1252323}) {
		t.Errorf("counters %+v (%v), want NoPorts 4 (not UdpLite's 9), OutRsts 1252323", c, err)
	}
	if d := (Counters{10, 5}).Since(Counters{4, 7}); d != (Counters{6, 5}) {
		t.Errorf("since: %+v", d)
	}
	if _, err := ReadCounters(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file read without error")
	}
}
