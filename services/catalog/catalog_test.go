package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets"
)

func TestEmbeddedTableCoversWhatAdminsMeet(t *testing.T) {
	c := Embedded()
	if n := len(c.Entries()); n < 150 {
		t.Errorf("%d curated entries, want at least 150", n)
	}
	// The ports the issue names, with the least risk each must carry.
	must := []struct {
		proto sockets.Proto
		port  uint16
		least Risk
	}{
		{sockets.TCP, 21, High}, {sockets.TCP, 23, Critical}, {sockets.TCP, 79, High},
		{sockets.TCP, 512, Critical}, {sockets.TCP, 513, Critical}, {sockets.TCP, 514, Critical},
		{sockets.UDP, 69, High}, {sockets.TCP, 111, High}, {sockets.UDP, 111, High},
		{sockets.UDP, 137, High}, {sockets.UDP, 138, High}, {sockets.TCP, 139, High},
		{sockets.TCP, 445, High}, {sockets.UDP, 161, High}, {sockets.TCP, 6000, Critical}, {sockets.TCP, 6010, Critical},
		{sockets.TCP, 25, Low}, {sockets.TCP, 587, None}, {sockets.UDP, 53, Medium}, {sockets.UDP, 123, Medium},
		{sockets.TCP, 80, Low}, {sockets.TCP, 443, None}, {sockets.TCP, 5900, High}, {sockets.TCP, 3389, High},
		{sockets.TCP, 3306, High}, {sockets.TCP, 5432, High}, {sockets.TCP, 6379, Critical},
		{sockets.TCP, 27017, Critical}, {sockets.TCP, 11211, Critical}, {sockets.UDP, 11211, Critical},
		{sockets.TCP, 9200, Critical}, {sockets.TCP, 5984, High}, {sockets.TCP, 9042, High},
		{sockets.TCP, 2375, Critical}, {sockets.TCP, 2376, Medium}, {sockets.TCP, 10250, Critical},
		{sockets.TCP, 2379, Critical}, {sockets.TCP, 6443, Medium}, {sockets.TCP, 6667, High},
		{sockets.TCP, 12345, Critical}, {sockets.TCP, 31337, Critical}, {sockets.TCP, 27374, Critical},
		{sockets.TCP, 1524, Critical}, {sockets.TCP, 4444, Critical}, {sockets.TCP, 22, Low},
	}
	for _, m := range must {
		e := c.Lookup(m.proto, m.port)
		if e == nil {
			t.Errorf("%d/%s is not in the catalog", m.port, m.proto)
			continue
		}
		if e.Risk < m.least {
			t.Errorf("%d/%s (%s) has risk %s, want at least %s", m.port, m.proto, e.Name, e.Risk, m.least)
		}
	}
	for _, e := range c.Entries() {
		if len(e.What) < 8 || len(e.Why) < 15 || e.Source == "" || e.StartedBy == "" {
			t.Errorf("%s %s: thin entry %+v", e.Ports(), e.Name, e)
		}
	}
	if e := c.Lookup(sockets.UDP, 23); e != nil {
		t.Errorf("23/udp should not match telnet's tcp entry: %+v", e)
	}
}

func TestParsePortsRejectsBadLines(t *testing.T) {
	bad := []string{
		"23/tcp | telnet | critical | what | why",
		"23 | telnet | critical | what | why | who | src",
		"23/sctp | telnet | critical | what | why | who | src",
		"99999/tcp | x | low | what | why | who | src",
		"30-20/tcp | x | low | what | why | who | src",
		"23/tcp | telnet | severe | what | why | who | src",
		"23/tcp | telnet | high | what |  | who | src",
	}
	for _, line := range bad {
		if _, err := parsePorts(strings.NewReader(line)); err == nil {
			t.Errorf("accepted %q", line)
		}
	}
}

func TestLoadOverlaysSystemServices(t *testing.T) {
	dir := t.TempDir()
	services := filepath.Join(dir, "services")
	os.WriteFile(services, []byte("# local names\nmyapp\t8123/tcp\t# ours\nhttp-local 80/tcp www\nbroken line\n"), 0o644)
	rng := filepath.Join(dir, "range")
	os.WriteFile(rng, []byte("40000\t50000\n"), 0o644)

	c, err := Load(services, rng)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ServiceName(sockets.TCP, 8123); got != "myapp" {
		t.Errorf("8123/tcp = %q, want the system's myapp", got)
	}
	if got := c.ServiceName(sockets.TCP, 80); got != "http-local" {
		t.Errorf("80/tcp = %q, want the system name over the embedded one", got)
	}
	if got := c.ServiceName(sockets.TCP, 6379); got != "redis" {
		t.Errorf("6379/tcp = %q, want the embedded redis", got)
	}
	if got := c.ServiceName(sockets.UDP, 8123); got != "" {
		t.Errorf("8123/udp = %q, want none", got)
	}
	for port, want := range map[uint16]PortClass{22: WellKnown, 8080: Registered, 45000: Ephemeral, 55000: Dynamic, 39999: Registered} {
		if got := c.Class(port); got != want {
			t.Errorf("class of %d = %d, want %d", port, got, want)
		}
	}
	if !strings.Contains(c.ExplainClass(45000), "40000–50000") {
		t.Errorf("ephemeral explanation does not name this kernel's range: %s", c.ExplainClass(45000))
	}
	if _, err := Load(filepath.Join(dir, "missing"), filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a minimal image without /etc/services: %v", err)
	}
}

func TestLoadRealSystemFiles(t *testing.T) {
	c, err := Load("/etc/services", "/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceName(sockets.TCP, 22) != "ssh" {
		t.Errorf("22/tcp is %q", c.ServiceName(sockets.TCP, 22))
	}
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	lo := strings.Fields(string(b))[0]
	if !strings.Contains(c.ExplainClass(60999), lo) && c.Class(60999) == Ephemeral {
		t.Errorf("ephemeral range not read from the kernel: %s", c.ExplainClass(60999))
	}
}

func BenchmarkLookup(b *testing.B) {
	c := Embedded()
	for b.Loop() {
		c.Lookup(sockets.TCP, 6379)
		c.ServiceName(sockets.TCP, 40000)
	}
}
