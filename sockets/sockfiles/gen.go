// Package sockfiles lists every socket every process holds, from the
// kernel's task-file iterator (eBPF): one pass inside the kernel, where
// reading /proc/PID/fd takes a readlink per descriptor.
package sockfiles

// The compiled objects are committed; the test command regenerates them
// with Debian's clang and fails if they differ.
//go:generate go tool bpf2go -target bpfel -tags linux -type record sockFiles c/sockfiles.c -- -Ic -O2 -g -Wall -Werror
