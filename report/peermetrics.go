package report

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/peers"
)

// topPeers bounds the peers the metrics name: a fleet's series stay few
// whatever the Internet throws at a host.
const topPeers = 10

// PeerMetrics are the textfile metrics of who is knocking: the scans in
// the record by kind, the failed logins in the log by service, and the
// peers that tried most (at most topPeers).
func PeerMetrics(list []peers.Peer) []byte {
	var b strings.Builder
	scans := map[string]int{}
	ports := map[string]int{}
	failed := map[string]int{}
	for _, k := range []history.ScanKind{history.ScanSYN, history.ScanConnect, history.ScanUDP, history.ScanStealth} {
		scans[k.String()], ports[k.String()] = 0, 0
	}
	failed["sshd"] = 0
	for i := range list {
		for _, s := range list[i].Scans {
			scans[s.Kind.String()]++
			ports[s.Kind.String()] += s.Ports
		}
		for _, f := range list[i].Failures {
			failed[f.Service] += f.Count
		}
	}
	counter := func(name, help string) { fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name) }
	counter("portwarden_scans_total", "Scans of closed ports the flight recorder holds, by kind (syn, connect, udp, stealth).")
	for _, k := range slices.Sorted(maps.Keys(scans)) {
		fmt.Fprintf(&b, "portwarden_scans_total{%s} %d\n", labelSet("kind", k), scans[k])
	}
	counter("portwarden_scanned_ports_total", "Closed ports those scans probed, by kind.")
	for _, k := range slices.Sorted(maps.Keys(ports)) {
		fmt.Fprintf(&b, "portwarden_scanned_ports_total{%s} %d\n", labelSet("kind", k), ports[k])
	}
	counter("portwarden_failed_logins_total", "Failed logins in the log read (auth.log, secure or the journal), by service.")
	for _, k := range slices.Sorted(maps.Keys(failed)) {
		fmt.Fprintf(&b, "portwarden_failed_logins_total{%s} %d\n", labelSet("service", k), failed[k])
	}
	gauge(&b, "portwarden_peer_tried", "What the peers that tried most tried: closed ports probed, failed logins and pre-authentication connections (the top 10).")
	top := make([]*peers.Peer, 0, len(list))
	for i := range list {
		if list[i].Tried() > 0 {
			top = append(top, &list[i])
		}
	}
	slices.SortStableFunc(top, func(a, b *peers.Peer) int { return b.Tried() - a.Tried() })
	for _, p := range top[:min(len(top), topPeers)] {
		asn := ""
		if p.Place.ASN != 0 {
			asn = strconv.FormatUint(uint64(p.Place.ASN), 10)
		}
		fmt.Fprintf(&b, "portwarden_peer_tried{%s} %d\n", labelSet("peer", p.Addr.String(), "asn", asn, "country", p.Place.Country,
			"banned", strconv.FormatBool(p.Banned())), p.Tried())
	}
	return []byte(b.String())
}
