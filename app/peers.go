package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portwarden/portwarden/services/bans"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/logins"
	"github.com/portwarden/portwarden/services/peers"
	"github.com/portwarden/portwarden/services/whereabouts"
)

// PeersOptions say where the Peers view reads what it knows of peers.
type PeersOptions struct {
	Since     time.Duration // how far back the record and the logs are read; default 24h
	AuthLog   string        // the log of failed logins; "" finds one (logins.Find)
	GeoIPDirs []string      // where .mmdb files are; default whereabouts.DefaultDirs
	NoDNS     bool          // no reverse DNS
	Resolver  *net.Resolver // asks reverse names; nil: the system's
	// HistoryPath is the record read for past connections and scans;
	// "" reads the App's (Options.HistoryPath).
	HistoryPath string
	// NoLifetimes skips the record's lifetimes (connections, ports):
	// scans, logins and bans are what check needs, and cheaper.
	NoLifetimes bool
	// Reread is how often what changes slowly (the record, bans) is read
	// again; default 10s. Open connections are every inspection's.
	Reread time.Duration
}

// PeersView is every peer, with what was read to know them.
type PeersView struct {
	Peers []peers.Peer
	Since time.Time
	// Sources say where each kind of fact came from; Warnings what could
	// not be read (the facts it would give are unknown, not absent).
	Sources  []string
	Warnings []string
	known    Knowledge
}

// Knowledge is a kind of fact about peers that may be unknown.
type Knowledge uint8

// The kinds of fact a PeersView may lack.
const (
	KnowsScans  Knowledge = 1 << iota // the record was read, made from the kernel's events
	KnowsLogins                       // a log of failed logins was read
)

// Know reports whether the view knows facts of kind k: their absence
// then means none, not unread.
func (v *PeersView) Know(k Knowledge) bool { return v.known&k == k }

// peerSources keeps what reading peers needs between inspections: the
// log followed, the databases open, names asked, and what was read of
// the record and the firewalls at the last reread.
type peerSources struct {
	mu       sync.Mutex
	opts     PeersOptions
	logs     logins.Source
	logsErr  error
	tally    *logins.Tally
	geo      *whereabouts.Geo
	geoErr   error
	names    *whereabouts.Resolver
	readAt   time.Time
	recorded *peers.Builder
	banned   []bans.Ban
	said     []string // sources and warnings of the last reread
	warned   []string
	known    Knowledge // what the last reread could read
}

// EnablePeers opens what Peers reads: the log of failed logins, the
// GeoIP databases, a resolver.
func (a *App) EnablePeers(opts PeersOptions) {
	if opts.Since <= 0 {
		opts.Since = 24 * time.Hour
	}
	if len(opts.GeoIPDirs) == 0 {
		opts.GeoIPDirs = whereabouts.DefaultDirs
	}
	if opts.Reread <= 0 {
		opts.Reread = 10 * time.Second
	}
	ps := &peerSources{opts: opts}
	ps.logs, ps.logsErr = logins.Find(opts.AuthLog, opts.Since)
	ps.tally = logins.NewTally(time.Now().Add(-opts.Since))
	ps.geo, ps.geoErr = whereabouts.OpenGeo(opts.GeoIPDirs)
	if !opts.NoDNS {
		ps.names = whereabouts.NewResolver(opts.Resolver)
	}
	a.mu.Lock()
	a.peers = ps
	a.mu.Unlock()
}

// WaitNames waits up to d for the reverse names asked so far: for a
// command that prints once.
func (a *App) WaitNames(d time.Duration) {
	a.mu.Lock()
	ps := a.peers
	a.mu.Unlock()
	if ps == nil || ps.names == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ps.names.Wait(ctx)
}

// rereadPeers makes the next Peers read the record, logs and bans again:
// an action changed them.
func (a *App) rereadPeers() {
	a.mu.Lock()
	ps := a.peers
	a.mu.Unlock()
	if ps != nil {
		ps.mu.Lock()
		ps.recorded = nil
		ps.mu.Unlock()
	}
}

// NamePeers fills in the reverse names answered since v was read.
func (a *App) NamePeers(v *PeersView) {
	a.mu.Lock()
	ps := a.peers
	a.mu.Unlock()
	if ps == nil || ps.names == nil || v == nil {
		return
	}
	for i := range v.Peers {
		v.Peers[i].Name = ps.names.Name(v.Peers[i].Addr)
	}
}

// Peers gathers the peers of in: open connections now, and at most every
// Reread the record, the failed logins and the bans; nil before
// EnablePeers. Calls are serialised; they do not wait for collections.
func (a *App) Peers(in *Inspection) *PeersView {
	a.mu.Lock()
	ps := a.peers
	a.mu.Unlock()
	if ps == nil || in == nil {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := time.Now()
	if ps.recorded == nil || now.Sub(ps.readAt) >= ps.opts.Reread {
		ps.reread(a, in, now)
	}
	b := ps.recorded.Clone()
	for _, j := range in.Judged {
		b.AddSocket(j, now)
	}
	v := &PeersView{Since: now.Add(-ps.opts.Since), Peers: b.Peers(ps.banned), known: ps.known}
	v.Sources = append(v.Sources, ps.said...)
	v.Warnings = append(v.Warnings, ps.warned...)
	for i := range v.Peers {
		p := &v.Peers[i]
		p.Place = ps.geo.Lookup(p.Addr)
		if ps.names != nil {
			p.Name = ps.names.Name(p.Addr)
		}
	}
	return v
}

// reread reads what changes slowly: the record's lifetimes and scans,
// the failed logins logged since the last read, and the bans.
func (ps *peerSources) reread(a *App, in *Inspection, now time.Time) {
	ps.readAt, ps.said, ps.warned, ps.known = now, nil, nil, 0
	since := now.Add(-ps.opts.Since)
	b := peers.NewBuilder(in.Baseline.Internal)
	a.recordedPeers(in, b, since, ps)
	switch {
	case ps.logsErr != nil:
		ps.warned = append(ps.warned, fmt.Sprintf("failed logins are not known: %v", ps.logsErr))
	default:
		if err := ps.logs.Read(ps.tally, now); err != nil {
			ps.warned = append(ps.warned, fmt.Sprintf("failed logins: %v", err))
		} else {
			ps.known |= KnowsLogins
		}
		ps.said = append(ps.said, "failed logins: "+ps.logs.String())
		for _, f := range ps.tally.Failures() {
			if !f.Last.Before(since) {
				b.AddFailures(f)
			}
		}
	}
	var spaces []bans.Space
	for _, ns := range in.Snapshot.Namespaces {
		path := ns.Path
		if path == "" && ns.PID != 0 {
			path = procRoot + "/" + strconv.Itoa(ns.PID) + "/ns/net"
		}
		if ns.Entered && path != "" {
			spaces = append(spaces, bans.Space{Path: path, Inode: ns.Inode, Label: ns.Label()})
		}
	}
	var warnings []string
	ps.banned, warnings = bans.ReadAll(spaces, procRoot, now)
	ps.warned = append(ps.warned, warnings...)
	ps.said = append(ps.said, fmt.Sprintf("bans: nftables sets and ipsets of %d network namespace(s)", len(spaces)))
	if ps.geoErr != nil {
		ps.warned = append(ps.warned, ps.geoErr.Error())
	}
	if names := ps.geo.Databases(); len(names) > 0 {
		ps.said = append(ps.said, "network owners and countries: "+strings.Join(names, ", "))
	}
	if ps.names == nil {
		ps.said = append(ps.said, "reverse DNS: off (--no-dns)")
	}
	ps.recorded = b
}

// recordedPeers adds the record's lifetimes and scans since since to b.
func (a *App) recordedPeers(in *Inspection, b *peers.Builder, since time.Time, ps *peerSources) {
	path := ps.opts.HistoryPath
	if path == "" {
		path = a.opts.HistoryPath
	}
	if path == "" {
		ps.warned = append(ps.warned, "no flight record is read: past connections and scans are not known")
		return
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		ps.warned = append(ps.warned, fmt.Sprintf("no flight record at %s (no recorder runs: `portwarden record`): past connections and scans are not known", path))
		return
	}
	db, err := history.Open(path, false)
	if err != nil {
		ps.warned = append(ps.warned, fmt.Sprintf("past connections and scans are not known: %v", err))
		return
	}
	defer db.Close()
	source, err := db.Source()
	if err == nil && source == history.Poll {
		ps.warned = append(ps.warned, "the recorder polls (no eBPF): connections shorter than its interval may be missing")
	}
	known, err := db.ScanKnowledge()
	switch {
	case err != nil:
		ps.warned = append(ps.warned, fmt.Sprintf("scans: %v", err))
	case known.Source == history.Poll:
		ps.warned = append(ps.warned, fmt.Sprintf("scans are not traced (the recorder could not load its probe program): it counted %d UDP datagrams to closed ports and %d TCP resets sent in its own namespace, from sources it cannot name",
			known.UnnamedUDP, known.UnnamedResets))
	case known.Source == 0:
		ps.warned = append(ps.warned, "scans are not recorded: the record was made by a portwarden that did not record them")
	case known.Source != history.EBPF:
		ps.warned = append(ps.warned, "scans are not recorded: the recorder neither traces nor counts probes of closed ports")
	}
	keep := a.InNamespaces(in)
	if !ps.opts.NoLifetimes {
		err = db.Query(history.Filter{Since: since, Kind: history.Connection, Keep: keep}, func(l *history.Lifetime) error {
			b.AddLifetime(l, a.catalog.ServiceName(l.Proto, l.ServicePort))
			return nil
		})
		if err != nil {
			ps.warned = append(ps.warned, fmt.Sprintf("past connections: %v", err))
		}
	}
	scans, err := db.Scans(history.ScanFilter{Since: since})
	if err != nil {
		ps.warned = append(ps.warned, fmt.Sprintf("scans: %v", err))
	} else if known.Source == history.EBPF {
		ps.known |= KnowsScans
	}
	picked := map[uint64]bool{}
	for _, n := range in.Snapshot.Namespaces {
		picked[n.Inode] = true
	}
	for _, s := range scans {
		if keep == nil || picked[s.NetNS] {
			b.AddScan(s)
		}
	}
	ps.said = append(ps.said, "past connections and scans: "+path)
	now := time.Now()
	if gaps, err := db.Gaps(since, now, now, history.LockHolder(path) != ""); err == nil {
		for _, g := range gaps {
			ps.warned = append(ps.warned, "the record is blind: "+g.String())
		}
	}
}
