package app

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/firewall/kernel"

	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/firewall"
	"github.com/portwarden/portwarden/sockets"
)

// nsFirewall is what one namespace's firewall says, as far as read.
type nsFirewall struct {
	rules *firewall.Ruleset // nil when unreadable: err says why
	scope *firewall.Scope
	err   error
}

// rulesets keeps each namespace's compiled ruleset between inspections:
// while the kernel's ruleset generation stays the same, a refresh costs
// one netlink round trip per namespace.
type rulesets map[uint64]*firewall.Ruleset

// readFirewalls reads the firewall of every namespace entered: its
// ruleset (again only when its generation changed) and its interfaces.
// A namespace whose firewall cannot be read or evaluated adds a warning.
func (a *App) readFirewalls(in *Inspection) map[uint64]*nsFirewall {
	out := map[uint64]*nsFirewall{}
	seen := map[uint64]bool{}
	for _, ns := range in.Snapshot.Namespaces {
		seen[ns.Inode] = true
		path := ns.Path
		if path == "" && ns.PID != 0 {
			path = procRoot + "/" + strconv.Itoa(ns.PID) + "/ns/net"
		}
		if !ns.Entered || path == "" {
			continue
		}
		f := &nsFirewall{}
		out[ns.Inode] = f
		f.rules, f.err = a.ruleset(ns, path)
		if f.err == nil {
			var ifs []firewall.Interface
			var routing *firewall.Routing
			ifs, routing, f.err = kernel.ReadNetwork(path)
			f.scope = firewall.NewScope(ifs, in.Baseline.Internal).WithRouting(routing)
		}
		if f.err != nil {
			f.rules = nil
			msg := fmt.Sprintf("could not evaluate the firewall of network namespace %s: %v; reach is unknown there", ns.Label(), f.err)
			if !slices.Contains(in.Snapshot.Warnings, msg) {
				in.Snapshot.Warnings = append(in.Snapshot.Warnings, msg)
			}
		}
	}
	for inode := range a.rulesets {
		if !seen[inode] {
			delete(a.rulesets, inode) // the namespace is gone
		}
	}
	return out
}

// legacyTables lists the namespace's iptables-legacy tables: from a
// process's /proc/PID/net, a file read, or where no process lives in it,
// from a thread moved inside.
func legacyTables(ns sockets.Namespace, path string) []string {
	if ns.PID != 0 {
		return kernel.LegacyTables(procRoot + "/" + strconv.Itoa(ns.PID) + "/net")
	}
	legacy, _ := kernel.LegacyTablesIn(path) // it could not be entered: Read said so already
	return legacy
}

// ruleset returns the namespace's ruleset with its iptables-legacy
// tables, compiled again only when the kernel's nftables generation moved
// or the legacy tables changed. Empty legacy tables with ACCEPT policies —
// what merely listing rules with iptables-legacy leaves — are skipped.
func (a *App) ruleset(ns sockets.Namespace, path string) (*firewall.Ruleset, error) {
	var legacy *kernel.Legacy
	if tables := legacyTables(ns, path); len(tables) > 0 {
		used, err := kernel.LegacyInUse(path, tables)
		if err == nil && len(used) > 0 {
			legacy, err = kernel.ReadLegacy(path, used)
		}
		if err != nil {
			return nil, fmt.Errorf("iptables-legacy tables (%s) could not be read: %w", strings.Join(tables, ", "), err)
		}
	}
	sum := uint64(0)
	if legacy != nil {
		sum = legacy.Sum
	}
	if rs := a.rulesets[ns.Inode]; rs != nil && rs.LegacySum == sum {
		gen, err := kernel.Generation(path)
		if err != nil {
			return nil, err
		}
		if gen == rs.Generation {
			changed, err := kernel.IPSetsChanged(path, rs)
			if err != nil {
				return nil, err
			}
			if !changed {
				return rs, nil
			}
		}
	}
	rs, err := kernel.ReadWith(path, legacy)
	if err != nil {
		return nil, err
	}
	a.rulesets[ns.Inode] = rs
	return rs, nil
}

// reachOf returns the function that decides a listener's reach from the
// firewalls read: its own namespace's, or for a container's listener
// published by the host, the path from the host's firewall through to the
// container's.
func reachOf(fws map[uint64]*nsFirewall, containers *container.Index) func(s *sockets.Socket) *firewall.Decision {
	return func(s *sockets.Socket) *firewall.Decision {
		f := fws[s.NetNS]
		if f == nil {
			return nil // a namespace not entered: nothing to say
		}
		if f.err != nil {
			return &firewall.Decision{Reach: firewall.ReachUnknown, Verdict: firewall.VerdictUnknown, Why: f.err.Error()}
		}
		l := firewall.Listener{Proto: sockets.TCP, Addr: s.Local.Addr().WithZone(""), Port: s.Local.Port(), V6Only: s.V6Only}
		if s.Proto == sockets.UDP {
			l.Proto = sockets.UDP
		}
		c := containers.Inside(s)
		if c == nil {
			d := f.rules.Decide(f.scope, l)
			return &d
		}
		published := containers.PublishedOf(s)
		if len(published) == 0 {
			return nil // only the container's neighbours: its exposure says so
		}
		var best *firewall.Decision
		for _, p := range published {
			d := forwarded(fws, containers, c, l, p)
			if best == nil || wider(d.Reach, best.Reach) {
				best = &d
			}
		}
		return best
	}
}

// forwarded decides the reach of a container's listener l through one
// host endpoint p: from the namespace holding the bridge to the container
// (the host's or an engine's; never another container's, though its
// network holds the address too).
func forwarded(fws map[uint64]*nsFirewall, containers *container.Index, c *container.Info, l firewall.Listener, p container.Published) firewall.Decision {
	to := netip.Addr{}
	for _, ip := range c.IPs {
		if l.Addr.IsUnspecified() || ip == l.Addr.Unmap() {
			to = ip
			break
		}
	}
	unknown := func(why string) firewall.Decision {
		return firewall.Decision{Reach: firewall.ReachUnknown, Verdict: firewall.VerdictUnknown, Why: why}
	}
	if !to.IsValid() {
		return unknown("container " + c.Label() + "'s address for this listener is not known")
	}
	// The outer namespace holds the container's network on a link of its
	// own (a bridge, by preference); the inner one holds the address.
	var outers []*nsFirewall
	var inner *nsFirewall
	bridged := false
	inodes := slices.Sorted(maps.Keys(fws))
	for _, inode := range inodes {
		f := fws[inode]
		inContainer := containers.Inside(&sockets.Socket{NetNS: inode}) != nil
		if f.scope == nil && f.err == nil {
			continue
		}
		if f.scope == nil { // unreadable: it may be either
			if inContainer {
				inner = f
			}
			continue
		}
		for _, i := range f.scope.Interfaces {
			for _, pfx := range i.Addrs {
				switch {
				case pfx.Addr() == to:
					inner = f
				case pfx.Contains(to) && !inContainer:
					if i.Bridge && !bridged {
						outers, bridged = nil, true
					}
					if (i.Bridge || !bridged) && !slices.Contains(outers, f) {
						outers = append(outers, f)
					}
				}
			}
		}
	}
	if len(outers) > 1 {
		// Another namespace may hold an address of the same network (a
		// second engine, a test bed, a VPN): the one forwarding to the
		// container redirects the published port.
		if o := redirecting(outers, l.Proto, p.Host); o != nil {
			outers = []*nsFirewall{o}
		}
	}
	switch {
	case len(outers) == 0:
		return unknown("no namespace read holds container " + c.Label() + "'s network")
	case len(outers) > 1:
		return unknown("several namespaces hold container " + c.Label() + "'s network: which one forwards to it is not known")
	case outers[0].rules == nil:
		return unknown("the namespace holding container " + c.Label() + "'s network could not be evaluated")
	case inner == nil:
		return unknown("container " + c.Label() + "'s own namespace was not read")
	case inner.rules == nil:
		return unknown("container " + c.Label() + "'s own firewall could not be evaluated: " + inner.err.Error())
	}
	outer := outers[0]
	innerRules, innerScope := inner.rules, inner.scope
	if p.Via == "proxy" {
		// docker-proxy relays from the host port; a DNAT, where there is
		// one, takes the packets first.
		hl := firewall.Listener{Proto: l.Proto, Addr: p.Host.Addr(), Port: p.Host.Port()}
		if d := outer.rules.Decide(outer.scope, hl); d.Verdict != firewall.VerdictRedirect {
			return d
		}
	}
	return firewall.DecideForwarded(outer.rules, outer.scope, l.Proto, p.Host, netip.AddrPortFrom(to, l.Port), innerRules, innerScope)
}

// redirecting is the one namespace of outers whose firewall redirects
// (DNATs) new connections to host, or nil when none or several do.
func redirecting(outers []*nsFirewall, proto sockets.Proto, host netip.AddrPort) *nsFirewall {
	var found *nsFirewall
	for _, o := range outers {
		if o.rules == nil || o.scope == nil {
			continue
		}
		if d := o.rules.Decide(o.scope, firewall.Listener{Proto: proto, Addr: host.Addr(), Port: host.Port()}); d.Verdict == firewall.VerdictRedirect {
			if found != nil {
				return nil
			}
			found = o
		}
	}
	return found
}

// reachRank orders reaches by how far they extend; unknown ranks next to
// public, which it may be.
var reachRank = map[firewall.Reach]int{firewall.ReachNone: 0, firewall.ReachHost: 1, firewall.ReachInternal: 2, firewall.ReachUnknown: 3, firewall.ReachPublic: 4}

func wider(a, b firewall.Reach) bool { return reachRank[a] > reachRank[b] }
