//go:build linux && (386 || arm || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpevents

// acceptSyscalls is unknown on this architecture: accepted connections
// are recorded without their process.
var acceptSyscalls = [2]int64{-1, -1}
