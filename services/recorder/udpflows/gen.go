// Package udpflows loads the eBPF programs that report every UDP
// exchange — one flow per socket and peer, with the process that sent or
// received — and the release of each UDP socket, from the socket-address
// hooks of the root cgroup (v2), and reads them.
package udpflows

// The compiled objects are committed; the test command regenerates them
// with Debian's clang and fails if they differ.
//go:generate go tool bpf2go -target bpfel -tags linux -type flow_event udpFlows c/udpflows.c -- -Ic -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
