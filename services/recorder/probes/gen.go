// Package probes loads the eBPF program that reports every packet that
// reached a port nothing listens on (TCP and UDP, IPv4 and IPv6, in every
// network namespace) — what port scans are made of — and reads them.
package probes

// The compiled objects are committed; the test command regenerates them
// with Debian's clang and fails if they differ.
//go:generate go tool bpf2go -target bpfel -tags linux -type probe probes c/probes.c -- -Ic -O2 -g -Wall -Werror
