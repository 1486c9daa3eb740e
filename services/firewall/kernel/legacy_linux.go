package kernel

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"unsafe"

	"github.com/portwarden/portwarden/internal/netns"

	"golang.org/x/sys/unix"
)

// The x_tables getsockopt interface (linux/netfilter_ipv4/ip_tables.h,
// netfilter_ipv6/ip6_tables.h): the same numbers for both families.
const (
	xtSoGetInfo    = 64 // IPT_SO_GET_INFO, IP6T_SO_GET_INFO
	xtSoGetEntries = 65 // IPT_SO_GET_ENTRIES, IP6T_SO_GET_ENTRIES
	xtTableMaxName = 32
	xtGetInfoLen   = 84 // struct ipt_getinfo
	xtEntriesAt    = 40 // the entries in struct ipt_get_entries (after name, size, and padding to 8)
	// Where target_offset sits in struct ipt_entry and ip6t_entry.
	iptTargetOffsetAt  = 88
	ip6tTargetOffsetAt = 140
	xtTargetHeaderLen  = 32     // struct xt_entry_target before its data
	verdictAcceptXT    = -1 - 1 // -NF_ACCEPT - 1: a standard target's ACCEPT
)

// LegacyInUse narrows tables (LegacyTables' names) to those of the
// namespace nsPath refers to that change what gets through: a table
// holding a rule, or a built-in chain whose policy is not ACCEPT. An
// empty table with ACCEPT policies — what merely listing the rules with
// iptables-legacy leaves behind — changes nothing. It reads the tables
// with x_tables' getsockopt, on a thread moved into the namespace, and
// needs CAP_NET_RAW.
func LegacyInUse(nsPath string, tables []string) ([]string, error) {
	var out []string
	err := netns.Do(nsPath, func() error {
		for _, t := range tables {
			family, name := legacyFamily(t)
			inUse, err := legacyTableInUse(family, name)
			if err != nil {
				return fmt.Errorf("iptables-legacy table %s: %w", t, err)
			}
			if inUse {
				out = append(out, t)
			}
		}
		return nil
	})
	return out, err
}

// legacyFamily splits a name LegacyTables gives ("filter", "ip6:mangle")
// into its address family and the table's own name.
func legacyFamily(table string) (family int, name string) {
	if rest, ok := strings.CutPrefix(table, "ip6:"); ok {
		return unix.AF_INET6, rest
	}
	return unix.AF_INET, table
}

// legacyTableInUse reads one table's info and entries.
func legacyTableInUse(family int, name string) (bool, error) {
	if len(name) >= xtTableMaxName {
		return true, nil
	}
	level, targetOffsetAt := unix.SOL_IP, iptTargetOffsetAt
	if family == unix.AF_INET6 {
		level, targetOffsetAt = unix.SOL_IPV6, ip6tTargetOffsetAt
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	info := make([]byte, xtGetInfoLen)
	copy(info, name)
	if err := getsockopt(fd, level, xtSoGetInfo, info); err != nil {
		return false, err
	}
	validHooks := binary.NativeEndian.Uint32(info[32:])
	underflow := info[56:76]
	numEntries := binary.NativeEndian.Uint32(info[76:])
	size := binary.NativeEndian.Uint32(info[80:])
	// Each built-in chain holds its policy, and an ERROR entry ends the
	// table: any more is a rule or a chain of the admin's.
	if int(numEntries) != bits.OnesCount32(validHooks)+1 {
		return true, nil
	}
	entries := make([]byte, xtEntriesAt+size)
	copy(entries, name)
	binary.NativeEndian.PutUint32(entries[32:], size)
	if err := getsockopt(fd, level, xtSoGetEntries, entries); err != nil {
		return false, err
	}
	table := entries[xtEntriesAt:]
	for hook := range 5 {
		if validHooks&(1<<hook) == 0 {
			continue
		}
		at := int(binary.NativeEndian.Uint32(underflow[4*hook:]))
		if at+targetOffsetAt+2 > len(table) {
			return true, nil
		}
		target := at + int(binary.NativeEndian.Uint16(table[at+targetOffsetAt:]))
		if target+xtTargetHeaderLen+4 > len(table) || table[target+2] != 0 { // a standard target has no name
			return true, nil
		}
		if int32(binary.NativeEndian.Uint32(table[target+xtTargetHeaderLen:])) != verdictAcceptXT {
			return true, nil
		}
	}
	return false, nil
}

func getsockopt(fd, level, opt int, buf []byte) error {
	n := uint32(len(buf))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// LegacyTablesIn is LegacyTables for the namespace nsPath refers to, read
// from a thread inside it: a namespace no process lives in has no
// /proc/PID/net to read.
func LegacyTablesIn(nsPath string) ([]string, error) {
	var out []string
	err := netns.Do(nsPath, func() error {
		out = LegacyTables("/proc/thread-self/net")
		return nil
	})
	return out, err
}
