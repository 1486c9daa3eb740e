// Package tcpevents loads the eBPF program that reports the life of every
// TCP socket — connect, listen, arrival, accept, close — in every network
// namespace, and reads its events.
package tcpevents

// The compiled objects are committed; the test command regenerates them
// with Debian's clang and fails if they differ.
//go:generate go tool bpf2go -target bpfel -tags linux -type event -type counters tcpEvents c/tcpevents.c -- -Ic -O2 -g -Wall -Werror
