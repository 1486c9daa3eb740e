// Package baseline reads and writes the admin's record of expected
// listeners: which ports are meant to be open, why, who said so and when.
// The file is TOML that people edit by hand; portwarden appends and removes
// whole entries without touching the rest of the text, under a lock, and
// never overwrites a file it cannot parse.
package baseline

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/portwarden/portwarden/services/atomicfile"
	"github.com/portwarden/portwarden/services/paths"
	"github.com/portwarden/portwarden/sockets"
)

// Entry documents one expected listener. Proto and Port are required; Bind,
// Process, Exe, Container and Image narrow the match when set.
type Entry struct {
	Proto     string    `toml:"proto"`
	Port      uint16    `toml:"port"`
	Bind      string    `toml:"bind,omitempty"`      // local address, e.g. "127.0.0.1" or "::"
	Process   string    `toml:"process,omitempty"`   // process name (comm)
	Exe       string    `toml:"exe,omitempty"`       // executable path
	Container string    `toml:"container,omitempty"` // the container's name
	Image     string    `toml:"image,omitempty"`     // the container's image
	Reason    string    `toml:"reason"`
	Owner     string    `toml:"owner"`
	Added     time.Time `toml:"added"`
}

// file is the TOML document.
type file struct {
	InternalNetworks []string   `toml:"internal_networks"`
	Listeners        []Entry    `toml:"listener"`
	Outbound         []Outbound `toml:"outbound"`
	Signs            []SignAck  `toml:"sign"`
}

// Baseline is a loaded baseline file.
type Baseline struct {
	Path     string
	Exists   bool           // false when there is no file yet
	Internal []netip.Prefix // networks the admin declares internal
	Entries  []Entry
	Outbound []Outbound // where this host is expected to connect out
	Signs    []SignAck  // signs of a rogue process acknowledged for one executable each
}

// DefaultPath is /etc/portwarden/baseline.toml for root, else
// $XDG_CONFIG_HOME/portwarden/baseline.toml (~/.config by default).
func DefaultPath() string { return paths.ConfigFile("baseline.toml") }

// Load reads the baseline at path. A missing file is an empty baseline; a
// malformed one is an error naming the line and column.
func Load(path string) (*Baseline, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Baseline{Path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	b, err := parse(path, string(text))
	if err != nil {
		return nil, err
	}
	b.Exists = true
	return b, nil
}

func parse(path, text string) (*Baseline, error) {
	var f file
	md, err := toml.Decode(text, &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d:%d: %s", path, pe.Position.Line, pe.Position.Col, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		return nil, fmt.Errorf("%s: unknown key %q (known: internal_networks; proto, port, bind, process, exe, container, image, reason, owner, added in [[listener]]; proto, to, port, reason, owner, added in [[outbound]]; sign, exe, reason, owner, added in [[sign]])", path, undec[0].String())
	}
	b := &Baseline{Path: path, Entries: f.Listeners, Outbound: f.Outbound, Signs: f.Signs}
	for i := range b.Signs {
		if err := b.Signs[i].Validate(); err != nil {
			return nil, fmt.Errorf("%s: sign %d: %w", path, i+1, err)
		}
	}
	for i := range b.Outbound {
		o := &b.Outbound[i]
		p, err := netip.ParsePrefix(o.To)
		if a, aerr := netip.ParseAddr(o.To); err != nil && aerr == nil {
			p, err = a.Prefix(a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("%s: outbound %d: to %q is not an address or a network in CIDR form (like 198.51.100.0/24)", path, i+1, o.To)
		}
		if o.Proto != "" && o.Proto != "tcp" && o.Proto != "udp" {
			return nil, fmt.Errorf("%s: outbound %d: proto %q: want \"tcp\" or \"udp\"", path, i+1, o.Proto)
		}
		o.to = p.Masked()
	}
	for _, s := range f.InternalNetworks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: internal_networks: %q is not a network in CIDR form (like 192.0.2.0/24): %w", path, s, err)
		}
		b.Internal = append(b.Internal, p.Masked())
	}
	for i, e := range f.Listeners {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("%s: listener %d (%s/%d): %w", path, i+1, e.Proto, e.Port, err)
		}
	}
	return b, nil
}

// Validate reports what makes an entry unusable: a protocol other than tcp
// or udp, no port, or a bind that is not an IP address.
func (e *Entry) Validate() error {
	if e.Proto != "tcp" && e.Proto != "udp" {
		return fmt.Errorf("proto %q: want \"tcp\" or \"udp\"", e.Proto)
	}
	if e.Port == 0 {
		return errors.New("port missing (1-65535)")
	}
	if e.Bind != "" {
		if _, err := netip.ParseAddr(e.Bind); err != nil {
			return fmt.Errorf("bind %q is not an IP address", e.Bind)
		}
	}
	return nil
}

// Where is the container a socket belongs to, as far as known: "" for
// none (or not known yet).
type Where struct{ Container, Image string }

// Match returns the first entry covering the socket, which belongs to the
// container in says, or nil.
func (b *Baseline) Match(s *sockets.Socket, in Where) *Entry {
	for i := range b.Entries {
		if b.Entries[i].Covers(s, in) {
			return &b.Entries[i]
		}
	}
	return nil
}

// Covers reports whether the entry documents the socket's local endpoint.
func (e *Entry) Covers(s *sockets.Socket, in Where) bool {
	if e.Proto != s.Proto.String() || e.Port != s.Local.Port() {
		return false
	}
	if (e.Container != "" && e.Container != in.Container) || (e.Image != "" && e.Image != in.Image) {
		return false
	}
	if e.Bind != "" {
		want, err := netip.ParseAddr(e.Bind)
		if err != nil || want.Unmap() != s.Local.Addr().WithZone("").Unmap() {
			return false
		}
	}
	if e.Process == "" && e.Exe == "" {
		return true
	}
	for _, p := range s.Processes {
		if (e.Process == "" || e.Process == p.Name) && (e.Exe == "" || e.Exe == p.Exe) {
			return true
		}
	}
	return false
}

// EntryFor returns the entry that documents listener s as it is now: its
// protocol, port, bind address and first process name. Reason, owner and
// date are the caller's to fill in.
func EntryFor(s *sockets.Socket) Entry {
	e := Entry{Proto: s.Proto.String(), Port: s.Local.Port(), Bind: s.Local.Addr().WithZone("").Unmap().String()}
	if len(s.Processes) > 0 {
		e.Process = s.Processes[0].Name
	}
	return e
}

// Key renders what the entry matches, as "tcp/22 on 0.0.0.0 by sshd".
func (e *Entry) Key() string {
	s := fmt.Sprintf("%s/%d", e.Proto, e.Port)
	if e.Bind != "" {
		s += " on " + e.Bind
	}
	if e.Process != "" {
		s += " by " + e.Process
	}
	if e.Exe != "" {
		s += " (" + e.Exe + ")"
	}
	if e.Container != "" {
		s += " in container " + e.Container
	}
	if e.Image != "" {
		s += " of image " + e.Image
	}
	return s
}

// ErrPresent is returned by Add when every entry is in the baseline
// already (an entry with the same key): nothing was written.
var ErrPresent = errors.New("already in the baseline; nothing written")

// Add appends entries to the baseline at path, creating the file and its
// directory if needed; entries already there (by key) are skipped. It takes
// the lock and re-reads the file first, so marks written meanwhile by
// another portwarden are kept.
func Add(path string, entries ...Entry) error {
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return fmt.Errorf("baseline entry %s: %w", entries[i].Key(), err)
		}
	}
	return update(path, func(text string, b *Baseline) (string, error) {
		have := map[string]bool{}
		for _, e := range b.Entries {
			have[e.Key()] = true
		}
		var blocks []string
		for _, e := range entries {
			if !have[e.Key()] {
				have[e.Key()] = true
				blocks = append(blocks, e.block())
			}
		}
		if len(blocks) == 0 && len(entries) > 0 {
			return "", ErrPresent
		}
		if text == "" {
			text = header
		}
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		for _, blk := range blocks {
			text += "\n" + blk
		}
		return text, nil
	})
}

// Remove deletes the entries for which match is true and returns how many
// it removed; the rest of the file, comments included, is kept as it is.
func Remove(path string, match func(Entry) bool) (int, error) {
	removed := 0
	err := update(path, func(text string, b *Baseline) (string, error) {
		if !b.Exists {
			return text, nil
		}
		blocks := splitBlocks(text)
		var out strings.Builder
		for _, blk := range blocks {
			if blk.entry != nil && match(*blk.entry) {
				removed++
				continue
			}
			out.WriteString(blk.text)
		}
		return out.String(), nil
	})
	return removed, err
}

// update runs edit on the file's current text under the lock and writes the
// result atomically. A file that does not parse is left untouched.
func update(path string, edit func(text string, b *Baseline) (string, error)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create baseline directory: %w", err)
	}
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read baseline: %w", err)
	}
	exists := err == nil
	b, err := parse(path, string(raw))
	if err != nil {
		return fmt.Errorf("%w (the file was not changed; fix it by hand)", err)
	}
	b.Exists = exists
	text, err := edit(string(raw), b)
	if err != nil {
		return err
	}
	if _, err := parse(path, text); err != nil {
		return fmt.Errorf("baseline update would not parse, not written: %w", err)
	}
	return atomicfile.Write(path, []byte(text))
}

const header = `# portwarden baseline: the listeners expected on this host, and why.
# portwarden check reports every listener not covered here. Edit freely;
# portwarden adds and removes [[listener]] blocks and keeps everything else.
#
# internal_networks = ["192.0.2.0/24"]   # peers here are "internal", not external
#
# [[listener]]
# proto = "tcp"                # tcp or udp
# port = 22
# bind = "0.0.0.0"             # optional: only this local address
# process = "sshd"             # optional: only this process name
# exe = "/usr/sbin/sshd"       # optional: only this executable
# reason = "admin SSH access"
# owner = "ops team"
# added = 2026-01-31
`

// block renders an entry as a [[listener]] table.
func (e *Entry) block() string {
	var b strings.Builder
	b.WriteString("[[listener]]\n")
	fmt.Fprintf(&b, "proto = %s\nport = %d\n", quote(e.Proto), e.Port)
	if e.Bind != "" {
		fmt.Fprintf(&b, "bind = %s\n", quote(e.Bind))
	}
	if e.Process != "" {
		fmt.Fprintf(&b, "process = %s\n", quote(e.Process))
	}
	if e.Exe != "" {
		fmt.Fprintf(&b, "exe = %s\n", quote(e.Exe))
	}
	if e.Container != "" {
		fmt.Fprintf(&b, "container = %s\n", quote(e.Container))
	}
	if e.Image != "" {
		fmt.Fprintf(&b, "image = %s\n", quote(e.Image))
	}
	fmt.Fprintf(&b, "reason = %s\nowner = %s\n", quote(e.Reason), quote(e.Owner))
	if e.Added.IsZero() {
		e.Added = time.Now()
	}
	fmt.Fprintf(&b, "added = %s\n", e.Added.Format(time.DateOnly))
	return b.String()
}

// quote renders s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// block is a run of the file's text: the preamble, or one [[listener]]
// table with the lines up to the next table header.
type textBlock struct {
	text  string
	entry *Entry
}

func splitBlocks(text string) []textBlock {
	var blocks []textBlock
	var cur strings.Builder
	flush := func() {
		if cur.Len() == 0 {
			return
		}
		blk := textBlock{text: cur.String()}
		if strings.HasPrefix(strings.TrimSpace(blk.text), "[[listener]]") {
			var f file
			if _, err := toml.Decode(blk.text, &f); err == nil && len(f.Listeners) == 1 {
				blk.entry = &f.Listeners[0]
			}
		}
		blocks = append(blocks, blk)
		cur.Reset()
	}
	for line := range strings.Lines(text) {
		if strings.HasPrefix(strings.TrimSpace(line), "[") {
			flush()
		}
		cur.WriteString(line)
	}
	flush()
	return blocks
}
