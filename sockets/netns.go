package sockets

import (
	"errors"
	"strconv"
	"strings"
)

// ErrNoNamespace is returned when a query's NetNS names no namespace.
var ErrNoNamespace = errors.New("no such network namespace")

// Namespace is a network namespace sockets live in.
type Namespace struct {
	Inode uint64 // the namespace's identity (nsfs inode)
	// Name is what the admin calls it: its name under /run/netns (ip
	// netns), or the file name Docker keeps it under; "" when none.
	Name string
	// Host marks the host's namespace: PID 1's, or portwarden's own where
	// PID 1's cannot be read.
	Host bool
	// Processes is how many processes live in it (0 for a namespace kept
	// only by a bind mount); PID is one of them, 0 when none.
	Processes int
	PID       int
	// Entered is false when its sockets could not be read (not root, or it
	// vanished): Snapshot.Warnings says why.
	Entered bool
	// Path is a file that refers to it, to enter it by: /proc/PID/ns/net,
	// or a bind mount such as /run/netns/NAME.
	Path string
}

// Label names a namespace for people: "host", its name, or "netns:INODE".
func (n *Namespace) Label() string {
	switch {
	case n == nil:
		return ""
	case n.Host:
		return "host"
	case n.Name != "":
		return n.Name
	}
	return "netns:" + strconv.FormatUint(n.Inode, 10)
}

// NetNSFilter picks namespaces: "" or "all" for every one, "host", "self"
// (the one portwarden runs in), a name, or an inode number.
type NetNSFilter string

// matches reports whether the filter picks n; self is portwarden's own
// namespace inode.
func (f NetNSFilter) matches(n *Namespace, self uint64) bool {
	switch s := strings.TrimSpace(string(f)); s {
	case "", "all":
		return true
	case "host":
		return n.Host
	case "self":
		return n.Inode == self
	default:
		if ino, err := strconv.ParseUint(strings.TrimPrefix(s, "netns:"), 10, 64); err == nil {
			return n.Inode == ino
		}
		return n.Name == s
	}
}

// Namespace returns the namespace with inode ino, or nil.
func (snap *Snapshot) Namespace(ino uint64) *Namespace {
	for i := range snap.Namespaces {
		if snap.Namespaces[i].Inode == ino {
			return &snap.Namespaces[i]
		}
	}
	return nil
}
