// Package signs reads the signs of a rogue process that incident
// responders check first, from /proc and the package database: a shell
// whose standard streams are a network socket, a binary deleted, swapped
// or run from memory, a binary no package owns or whose content differs
// from its package's, a name that imitates a kernel thread or another
// program, a preloaded library. Only what was read counts: a fact that
// cannot be read gives no sign and a warning, never a guess.
package signs

import (
	"path"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/sockets"
)

// Code names a sign.
type Code string

// The signs.
const (
	ShellOnSocket    Code = "shell-on-socket"
	ExeDeleted       Code = "exe-deleted"
	ExeMemfd         Code = "exe-memfd"
	ExeInWritableDir Code = "exe-in-writable-dir"
	ExeUnpackaged    Code = "exe-unpackaged"
	ExeModified      Code = "exe-modified"
	KernelNameMimic  Code = "kernel-name-mimic"
	NameMismatch     Code = "name-mismatch"
	LDPreload        Code = "ld-preload"
	PacketSocket     Code = "packet-socket"
	RawSocket        Code = "raw-socket"
	MagicFilter      Code = "magic-packet-filter"
	ShellNearSocket  Code = "shell-near-socket"
	BulkOutbound     Code = "bulk-outbound"
)

// NetworkHolder is a process holding a TCP or UDP socket, and what that
// socket is: "a TCP connection to 198.51.100.7:4444".
type NetworkHolder struct {
	Process *sockets.Process
	Holds   string
}

// Sign is one sign seen on a process, with what was seen.
type Sign struct {
	Code   Code
	Detail string // "its stdin, stdout and stderr are a TCP connection to 198.51.100.7:4445"
	// Risk is how much it raises a socket's risk: the code's, or lower
	// where the place says so (an unpackaged binary under /usr/local).
	Risk catalog.Risk
	// Ack is the admin's reason when the baseline acknowledges this sign
	// for this executable: then it raises nothing.
	Ack string
}

// about is what each sign means for a learner, its risk, and what to
// check next.
var about = map[Code]struct {
	risk          catalog.Risk
	means, checks string
}{
	ShellOnSocket: {catalog.Critical, "a shell or interpreter talks to the network through its standard streams: the shape of a reverse or bind shell, which gives whoever is at the other end a command line on this host",
		"who the peer is (the connection's remote end), which user the shell runs as, and its parent: what started it"},
	ExeDeleted: {catalog.High, "the program file this process runs was deleted or replaced after it started: malware deletes itself to hide, but an upgrade that did not restart a service looks the same",
		"whether a package upgrade just ran (then restart the service); else copy /proc/PID/exe aside before killing it"},
	ExeMemfd: {catalog.Critical, "the process runs from a memory-only file (memfd), never written to disk: a fileless implant",
		"copy /proc/PID/exe aside for analysis, then kill it and find how it got in"},
	ExeInWritableDir: {catalog.High, "the program runs from a directory any user can write to (/tmp, /dev/shm, …), where attackers drop tools and no package installs anything",
		"the file's owner and age, and what started the process"},
	ExeUnpackaged: {catalog.Medium, "no installed package owns the program: normal for software installed by hand under /usr/local or /opt, unusual elsewhere",
		"whether an admin installed it; the file's owner and modification time"},
	ExeModified: {catalog.Critical, "the program's content differs from what its package installed: a trojaned binary, or a local patch nobody recorded",
		"dpkg --verify (or rpm -V) on its package, and reinstall it from a trusted source"},
	KernelNameMimic: {catalog.High, "a user-space process named like a kernel thread ([kworker/0:2]): a classic way to hide in a process list",
		"its executable (/proc/PID/exe) and command line: kernel threads have neither"},
	NameMismatch: {catalog.High, "the process calls itself one program but runs another binary: malware borrows the names of daemons everyone expects",
		"the executable's path and package"},
	LDPreload: {catalog.High, "a library is preloaded into the process (LD_PRELOAD or /etc/ld.so.preload): the way user-space rootkits hook every program",
		"the library named, its package, and who set it"},
	PacketSocket: {catalog.High, "the process holds a packet socket: it sees the frames of an interface before the firewall does, with no port for a scan or a rule to find; DHCP clients and capture tools do this, and so do sniffers and backdoors woken by a packet (BPFDoor)",
		"what the program is and who started it; ss -0 -p lists packet sockets; a legitimate one is acknowledged in the baseline for its executable"},
	RawSocket: {catalog.High, "the process holds a raw IP socket: it receives every packet of one IP protocol (ICMP, or TCP and UDP whole) whatever the port, unseen by a port scan",
		"what the program is and who started it; ss -w -p lists raw sockets; a legitimate one is acknowledged in the baseline for its executable"},
	MagicFilter: {catalog.Critical, "the filter on its packet or raw socket compares bytes deep in a packet with fixed values: it waits for one magic packet, the trigger of a passive backdoor such as BPFDoor, which then opens a shell or a port",
		"copy /proc/PID/exe aside, capture traffic to and from the host, and treat the host as compromised"},
	ShellNearSocket: {catalog.Critical, "a shell or interpreter whose input or output runs through a pipe, socket pair or terminal to a process holding a network connection: a reverse or bind shell one hop from the socket (socat, ncat -e, a named pipe to nc)",
		"who the peer is, which user the shell runs as, and what started the process on the other end"},
	BulkOutbound: {catalog.High, "the process sent much data to an address outside your networks in a short time: a backup or a sync does this, and so does a thief shipping data out, or a miner",
		"what the peer is (the Peers view, whois), what the process is and who started it; a known transfer is documented in the baseline ([[outbound]] for its destination, or the sign acknowledged for its executable)"},
}

// Codes lists every sign, in a fixed order.
func Codes() []Code {
	return []Code{ShellOnSocket, ShellNearSocket, ExeDeleted, ExeMemfd, ExeInWritableDir, ExeUnpackaged, ExeModified,
		KernelNameMimic, NameMismatch, LDPreload, PacketSocket, RawSocket, MagicFilter, BulkOutbound}
}

// Risk is how much a sign raises a socket's risk.
func (c Code) Risk() catalog.Risk { return about[c].risk }

// Means says what the sign means and why it matters, for a learner.
func (c Code) Means() string { return about[c].means }

// Checks says what to check next.
func (c Code) Checks() string { return about[c].checks }

// Worst is the highest risk among signs, and whether there is any.
func Worst(signs []Sign) (catalog.Risk, bool) {
	var worst catalog.Risk
	some := false
	for _, s := range signs {
		if s.Ack == "" {
			worst, some = max(worst, s.Risk), true
		}
	}
	return worst, some
}

func quote(s string) string { return strconv.Quote(s) }

// posixShells are the shells proper: a command line and nothing else.
var posixShells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true,
	"csh": true, "tcsh": true, "ash": true, "fish": true}

// ShellName reports whether a program's name is a shell's ("bash").
func ShellName(name string) bool { return posixShells[name] }

// IsShell reports whether p runs a shell, by its name or its
// executable's: interpreters (python, perl) serve ports for a living, a
// shell holding a network connection does not.
func IsShell(p *sockets.Process) bool {
	return posixShells[p.Name] || posixShells[path.Base(strings.TrimSuffix(p.Exe, " (deleted)"))]
}
