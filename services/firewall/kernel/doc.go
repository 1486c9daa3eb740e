// Package kernel reads a network namespace's packet filter and network
// from the kernel, for the evaluator in package firewall: the nftables
// ruleset over netlink (with the expressions google/nftables cannot
// decode named, never dropped), iptables-legacy tables over x_tables'
// getsockopt, interfaces and routes over rtnetlink, and the port forwards
// that publish containers. It decides nothing.
package kernel
