//go:build linux && (amd64 || arm64)

package tcpevents

import "golang.org/x/sys/unix"

// acceptSyscalls are the numbers of accept(2) and accept4(2) here.
var acceptSyscalls = [2]int64{unix.SYS_ACCEPT, unix.SYS_ACCEPT4}
