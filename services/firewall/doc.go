// Package firewall decides who can reach a listener through a packet
// filter. It compiles an nftables ruleset — as package kernel reads it,
// iptables-legacy tables turned into the same expressions — into tests of
// packet fields, and follows a connection's packets through it from every
// class of source, keeping the sources as sets of addresses (Decide,
// DecideForwarded). It is pure: no syscalls, so the fuzz targets and
// benchmarks need no kernel. Anything it does not understand makes the
// answer unknown, naming the rule.
//
// Where a new construct goes: a new packet field in fields.go (and its
// value for each packet in packet.go), an expression in compile.go, a
// statement that changes the packet for later rules (marks, rewrites) in
// statements.go and marks.go, an xtables match in xtmatch.go, a rate
// limit in stateful.go. Maps are lowered into a rule per element
// (lower.go): the evaluator never sees a map lookup.
package firewall
