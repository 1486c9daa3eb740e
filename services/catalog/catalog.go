// Package catalog knows what ports are: service names from /etc/services
// over a compiled-in table, a curated explanation and risk level for the
// ports admins meet (ports.txt, with its sources), and the port ranges.
package catalog

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/sockets"
)

//go:embed ports.txt
var portsData string

// Risk is how dangerous an open port is, from None to Critical.
type Risk uint8

// Risk levels.
const (
	None Risk = iota
	Low
	Medium
	High
	Critical
)

var riskNames = [...]string{"none", "low", "medium", "high", "critical"}

// String returns the level's name in lower case.
func (r Risk) String() string {
	if int(r) < len(riskNames) {
		return riskNames[r]
	}
	return "risk(" + strconv.Itoa(int(r)) + ")"
}

// Raise returns the next level up, at most Critical.
func (r Risk) Raise() Risk { return min(r+1, Critical) }

// ParseRisk parses a level's name.
func ParseRisk(s string) (Risk, error) {
	for i, n := range riskNames {
		if n == s {
			return Risk(i), nil
		}
	}
	return None, fmt.Errorf("unknown risk %q (want none, low, medium, high or critical)", s)
}

// Entry is what the catalog knows about a port.
type Entry struct {
	First, Last uint16 // the port, or a range
	Protos      []sockets.Proto
	Name        string
	Risk        Risk
	What        string // one line: what it is
	Why         string // for the learner: why it matters, what to check
	StartedBy   string // the usual package or unit
	Source      string // where the facts come from
}

// Ports renders the entry's ports as "23/tcp" or "6000-6063/tcp".
func (e *Entry) Ports() string {
	p := strconv.Itoa(int(e.First))
	if e.Last != e.First {
		p += "-" + strconv.Itoa(int(e.Last))
	}
	var protos []string
	for _, pr := range e.Protos {
		protos = append(protos, pr.String())
	}
	return p + "/" + strings.Join(protos, ",")
}

// key is a protocol and port as one integer: the maps' fast path, looked
// up for every connection a snapshot judges.
type key uint32

func keyOf(proto sockets.Proto, port uint16) key { return key(proto)<<16 | key(port) }

// Catalog answers what a port is. The zero value is not usable: use Load
// or Embedded.
type Catalog struct {
	known     map[key]*Entry
	names     map[key]string // from /etc/services
	ephemeral [2]uint16
	entries   []*Entry
}

// Embedded returns the catalog compiled into the binary, with Linux's
// default ephemeral range and no system service names.
func Embedded() *Catalog {
	entries, err := parsePorts(strings.NewReader(portsData))
	if err != nil {
		panic("catalog: ports.txt: " + err.Error()) // a test keeps this from shipping
	}
	c := &Catalog{known: map[key]*Entry{}, names: map[key]string{}, ephemeral: [2]uint16{32768, 60999}, entries: entries}
	for _, e := range entries {
		for _, pr := range e.Protos {
			for p := int(e.First); p <= int(e.Last); p++ {
				if _, dup := c.known[keyOf(pr, uint16(p))]; !dup {
					c.known[keyOf(pr, uint16(p))] = e
				}
			}
		}
	}
	return c
}

// Load returns the embedded catalog with the system's service names from
// servicesPath (normally /etc/services) over it and the ephemeral port
// range from rangePath (normally /proc/sys/net/ipv4/ip_local_port_range).
// A missing file is not an error: minimal images have no /etc/services.
func Load(servicesPath, rangePath string) (*Catalog, error) {
	c := Embedded()
	if f, err := os.Open(servicesPath); err == nil {
		defer f.Close()
		if err := c.readServices(f); err != nil {
			return nil, fmt.Errorf("%s: %w", servicesPath, err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if b, err := os.ReadFile(rangePath); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, err1 := strconv.ParseUint(f[0], 10, 16)
			hi, err2 := strconv.ParseUint(f[1], 10, 16)
			if err1 == nil && err2 == nil && lo <= hi {
				c.ephemeral = [2]uint16{uint16(lo), uint16(hi)}
			}
		}
	}
	return c, nil
}

// readServices reads /etc/services lines "name port/proto [aliases] [# comment]".
// Lines it cannot read are skipped: the file is the admin's, not ours.
func (c *Catalog) readServices(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		portStr, protoStr, ok := strings.Cut(f[1], "/")
		port, err := strconv.ParseUint(portStr, 10, 16)
		if !ok || err != nil {
			continue
		}
		var pr sockets.Proto
		switch protoStr {
		case "tcp":
			pr = sockets.TCP
		case "udp":
			pr = sockets.UDP
		default:
			continue
		}
		k := keyOf(pr, uint16(port))
		if _, seen := c.names[k]; !seen {
			c.names[k] = f[0]
		}
	}
	return sc.Err()
}

// Lookup returns what the catalog knows of a port, or nil.
func (c *Catalog) Lookup(proto sockets.Proto, port uint16) *Entry {
	return c.known[keyOf(proto, port)]
}

// ServiceName returns the port's service name: the system's /etc/services
// first, then the compiled-in table; "" when neither knows it.
func (c *Catalog) ServiceName(proto sockets.Proto, port uint16) string {
	if n, ok := c.names[keyOf(proto, port)]; ok {
		return n
	}
	if e := c.known[keyOf(proto, port)]; e != nil {
		return e.Name
	}
	return ""
}

// Entries returns every curated entry, in file order.
func (c *Catalog) Entries() []*Entry { return c.entries }

// PortClass is the kind of range a port number falls in.
type PortClass uint8

// Port classes.
const (
	WellKnown  PortClass = iota // 0–1023: binding needs privilege
	Registered                  // 1024–49151, outside the ephemeral range
	Ephemeral                   // the kernel's range for outgoing connections
	Dynamic                     // 49152–65535, outside the ephemeral range
)

// Class tells which range a port is in.
func (c *Catalog) Class(port uint16) PortClass {
	switch {
	case port < 1024:
		return WellKnown
	case port >= c.ephemeral[0] && port <= c.ephemeral[1]:
		return Ephemeral
	case port >= 49152:
		return Dynamic
	}
	return Registered
}

// ExplainClass says what the port's range means, for the learner.
func (c *Catalog) ExplainClass(port uint16) string {
	switch c.Class(port) {
	case WellKnown:
		return "a well-known port (0–1023): only root or a process with CAP_NET_BIND_SERVICE can bind it, so a listener here was started with privilege"
	case Ephemeral:
		return fmt.Sprintf("in this kernel's ephemeral range (%d–%d), where the kernel picks local ports for outgoing connections; a listener here chose a random port or is an RPC service", c.ephemeral[0], c.ephemeral[1])
	case Dynamic:
		return "in the dynamic/private range (49152–65535), for private or temporary use"
	}
	return "a registered port (1024–49151): any user may bind it; IANA records which service it is assigned to"
}

// parsePorts reads ports.txt.
func parsePorts(r io.Reader) ([]*Entry, error) {
	var entries []*Entry
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " | ")
		if len(f) != 7 {
			return nil, fmt.Errorf("line %d: %d fields, want 7", n, len(f))
		}
		e := &Entry{Name: f[1], What: f[3], Why: f[4], StartedBy: f[5], Source: f[6]}
		ports, protos, ok := strings.Cut(f[0], "/")
		if !ok {
			return nil, fmt.Errorf("line %d: %q has no /protocol", n, f[0])
		}
		first, last, isRange := strings.Cut(ports, "-")
		if !isRange {
			last = first
		}
		lo, err1 := strconv.ParseUint(first, 10, 16)
		hi, err2 := strconv.ParseUint(last, 10, 16)
		if err1 != nil || err2 != nil || lo > hi {
			return nil, fmt.Errorf("line %d: bad ports %q", n, ports)
		}
		e.First, e.Last = uint16(lo), uint16(hi)
		for _, p := range strings.Split(protos, ",") {
			switch p {
			case "tcp":
				e.Protos = append(e.Protos, sockets.TCP)
			case "udp":
				e.Protos = append(e.Protos, sockets.UDP)
			default:
				return nil, fmt.Errorf("line %d: unknown protocol %q", n, p)
			}
		}
		risk, err := ParseRisk(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		e.Risk = risk
		for i, v := range f {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("line %d: field %d is empty", n, i+1)
			}
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

var riskShort = [...]string{"", "low", "med", "high", "crit"}

// Short names the level in at most four letters, for narrow tables; None
// is "".
func (r Risk) Short() string {
	if int(r) < len(riskShort) {
		return riskShort[r]
	}
	return r.String()
}
