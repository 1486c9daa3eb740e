package disable

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// xinetdService is one "service NAME { ... }" block of an xinetd
// configuration.
type xinetdService struct {
	file       string
	name       string
	attrs      map[string]string
	start, end int // line numbers of "service" and of its closing brace (0-based)
}

// readXinetd reads an xinetd configuration and the files its includedir
// and include directives name, the way xinetd does (includedir skips files
// with a dot or ending in ~).
func readXinetd(conf string) ([]xinetdService, error) {
	var out []xinetdService
	seen := map[string]bool{}
	var read func(path string) error
	read = func(path string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read xinetd configuration: %w", err)
		}
		lines := strings.Split(string(b), "\n")
		var cur *xinetdService
		for i, raw := range lines {
			line := strings.TrimSpace(raw)
			if c := strings.IndexByte(line, '#'); c >= 0 {
				line = strings.TrimSpace(line[:c])
			}
			f := strings.Fields(line)
			switch {
			case len(f) == 0:
			case cur == nil && f[0] == "includedir" && len(f) == 2:
				entries, err := os.ReadDir(f[1])
				if err != nil {
					return fmt.Errorf("xinetd includedir %s: %w", f[1], err)
				}
				var names []string
				for _, e := range entries {
					if n := e.Name(); !e.IsDir() && !strings.Contains(n, ".") && !strings.HasSuffix(n, "~") {
						names = append(names, n)
					}
				}
				sort.Strings(names)
				for _, n := range names {
					if err := read(filepath.Join(f[1], n)); err != nil {
						return err
					}
				}
			case cur == nil && f[0] == "include" && len(f) == 2:
				if err := read(f[1]); err != nil {
					return err
				}
			case cur == nil && f[0] == "service" && len(f) >= 2:
				cur = &xinetdService{file: path, name: f[1], attrs: map[string]string{}, start: i}
			case cur != nil && f[0] == "}":
				cur.end = i
				out = append(out, *cur)
				cur = nil
			case cur != nil && len(f) >= 3 && f[1] == "=":
				cur.attrs[f[0]] = strings.Join(f[2:], " ")
			}
		}
		return nil
	}
	return out, read(conf)
}

// port is the service's port: its port attribute, or its name looked up
// in the services file for its protocol.
func (s xinetdService) port(services map[string]uint16) uint16 {
	if p, err := strconv.ParseUint(s.attrs["port"], 10, 16); err == nil {
		return uint16(p)
	}
	return services[s.name+"/"+s.protocol()]
}

func (s xinetdService) protocol() string {
	if p := s.attrs["protocol"]; p != "" {
		return p
	}
	if s.attrs["socket_type"] == "dgram" {
		return "udp"
	}
	return "tcp"
}

// disabledText returns the file's text with the service set to
// "disable = yes": the existing disable line is replaced, or one is added
// before the closing brace.
func (s xinetdService) disabledText(text string) string {
	// xinetd takes no comment after a value: the mark gets its own line.
	set := []string{"\t# disabled by portwarden", "\tdisable\t\t= yes"}
	lines := strings.Split(text, "\n")
	for i := s.start + 1; i < s.end; i++ {
		if f := strings.Fields(lines[i]); len(f) >= 3 && f[0] == "disable" && f[1] == "=" {
			return strings.Join(slices.Concat(lines[:i], set, lines[i+1:]), "\n")
		}
	}
	return strings.Join(slices.Concat(lines[:s.end], set, lines[s.end:]), "\n")
}

// readServices maps "name/proto" to port from an /etc/services file.
func readServices(path string) map[string]uint16 {
	m := map[string]uint16{}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		portStr, proto, ok := strings.Cut(fs[1], "/")
		p, err := strconv.ParseUint(portStr, 10, 16)
		if !ok || err != nil {
			continue
		}
		for _, name := range append([]string{fs[0]}, fs[2:]...) {
			if _, dup := m[name+"/"+proto]; !dup {
				m[name+"/"+proto] = uint16(p)
			}
		}
	}
	return m
}
