// Package app is portwarden's application layer: the one place that
// collects and judges sockets, plans and performs mark, unmark, kill and
// disable, and writes each action's audit record. The command line and the
// dashboard both call it.
//
// An App is safe for concurrent use. Collections are serialised: at most
// one runs at a time, whoever asks. Actions are planned from the snapshot
// the admin saw, which the caller passes in.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/portwarden/portwarden/services/session"

	"github.com/portwarden/portwarden/services/block"
	"github.com/portwarden/portwarden/services/firewall/kernel"
	"github.com/portwarden/portwarden/services/signs"
	"github.com/portwarden/portwarden/services/traffic"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/services/netprogs"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// The system files portwarden reads.
const (
	procRoot       = "/proc"
	servicesFile   = "/etc/services"
	localPortRange = "/proc/sys/net/ipv4/ip_local_port_range"
)

// Options configure an App. Zero values are the defaults.
type Options struct {
	BaselinePath string        // default baseline.DefaultPath()
	AuditPath    string        // default audit.DefaultPath()
	ReadOnly     bool          // refuse every action
	KillWait     time.Duration // how long a kill waits for the process to end; default 5s
	// Trace, when set, gets a line per collection with its timings.
	Trace io.Writer
	// Internal are networks whose peers are internal, besides the
	// baseline's internal_networks (the config file's).
	Internal []netip.Prefix
	// NetNS picks the network namespaces every inspection reads (a
	// query's own NetNS wins); the zero value reads them all.
	NetNS sockets.NetNSFilter
	// Session is the admin's own session, which actions must not cut by
	// accident; nil means this process's (action.CurrentSession).
	Session *action.Session
	// Changes, when set, tells the collector which TCP sockets changed
	// between refreshes, so that it reads only those again (the
	// dashboard's, from the kernel's events).
	Changes sockets.ChangeFeed
	// HistoryPath is the flight recorder's record each inspection reads
	// its recent lifetimes from (the dashboard's History view); "" reads
	// none.
	HistoryPath string
	// BulkOutbound is when a process sending to an external peer shows
	// the bulk-outbound sign; nil means DefaultBulkOutbound.
	BulkOutbound *BulkOutbound
}

// App collects, judges and acts. Make one with New.
type App struct {
	opts    Options
	catalog *catalog.Catalog
	session action.Session
	log     audit.Log

	containers *container.Resolver // names containers, off the refresh path
	signs      *signs.Reader       // signs of rogue processes, by process start
	netIdx     *netIndex           // who holds what of the network, for the signs; under mu
	progs      *programs           // the eBPF programs on interfaces, last read; under mu

	mu        sync.Mutex // serialises collections; guards the fields below
	collector sockets.Collector
	lastBase  *baseline.Baseline // the last baseline that loaded
	merged    *mergedBaseline    // lastBase with Options.Internal
	last      *judgement         // the last verdicts, with what they were judged on
	rulesets  rulesets           // each namespace's firewall, by namespace inode
	peers     *peerSources       // set by EnablePeers
	meter     traffic.Meter      // each connection's counters at the last inspection
	sent      outboundTally      // what each process sent each external peer, lately
}

// ErrReadOnly refuses an action when portwarden runs read-only.
var ErrReadOnly = errors.New("refused: portwarden runs with --read-only")

// New returns an App. It reads the port catalog (with /etc/services) and
// notes the admin's own session, which actions must not cut by accident.
func New(opts Options) (*App, error) {
	if opts.BaselinePath == "" {
		opts.BaselinePath = baseline.DefaultPath()
	}
	if opts.AuditPath == "" {
		opts.AuditPath = audit.DefaultPath()
	}
	if opts.KillWait <= 0 {
		opts.KillWait = 5 * time.Second
	}
	if opts.BulkOutbound == nil {
		opts.BulkOutbound = &DefaultBulkOutbound
	}
	cat, err := catalog.Load(servicesFile, localPortRange)
	if err != nil {
		return nil, err
	}
	collector := sockets.NewCollector()
	if opts.Changes != nil {
		collector = sockets.NewCollectorFollowing(opts.Changes)
	}
	a := &App{opts: opts, catalog: cat, log: audit.Log{Path: opts.AuditPath}, collector: collector,
		containers: container.NewResolver(container.DefaultEngines()), rulesets: rulesets{},
		signs: signs.NewReader(procRoot, "/")}
	if opts.Session != nil {
		a.session = *opts.Session
	} else {
		a.session = action.CurrentSession(procRoot)
	}
	return a, nil
}

// BaselinePath is the baseline file the App reads and edits.
func (a *App) BaselinePath() string { return a.opts.BaselinePath }

// Inspection is one snapshot, judged.
type Inspection struct {
	Host     string
	Snapshot *sockets.Snapshot
	// Judged holds every socket of Snapshot with its verdict, in the
	// snapshot's order; sort Judged, never Snapshot.Sockets.
	Judged   []verdict.Judged
	Baseline *baseline.Baseline // what the verdicts were judged against
	// BaselineErr is why the baseline could not be read. The verdicts then
	// use the last baseline that loaded, or none.
	BaselineErr error
	// Containers names the container of each socket, as far as known when
	// the snapshot was taken: names and images arrive from the engines in
	// the background (WaitContainers waits for them).
	Containers *container.Index

	// Blocks are the peers portwarden blocks in its own namespace.
	Blocks []block.Block

	// Raw holds every packet and raw socket of Snapshot with its verdict,
	// in the snapshot's order.
	Raw []verdict.JudgedRaw
	// Programs are the eBPF programs attached to the interfaces of
	// Snapshot's namespaces (XDP, tcx), with their verdicts.
	Programs []netprogs.Judged

	// Signs are the signs of a rogue process seen on each process holding
	// a socket, by PID.
	Signs map[int][]signs.Sign

	// Traffic is each TCP connection's byte counters and its rate since
	// the App's last inspection.
	Traffic *traffic.View

	// Recording is set when the flight recorder's record is there to
	// read (Options.HistoryPath).
	Recording bool
	// Recent is what the flight recorder saw in a window; set by the
	// caller (App.History) when it wants it, as Peers.
	Recent *Recent

	// Peers are every remote address with what is known of it; set by
	// the caller (App.Peers), when it wants them: the dashboard only in
	// its Peers view, so other refreshes do not pay for them.
	Peers *PeersView

	firewalls map[uint64]*nsFirewall // by namespace inode
}

// Inspect collects the sockets q asks for and judges them against the
// baseline, read afresh: another portwarden or the admin's editor may have
// changed it. Collections never overlap.
func (a *App) Inspect(q sockets.Query) (*Inspection, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	in := &Inspection{}
	in.Host, _ = os.Hostname()
	if base, err := baseline.Load(a.opts.BaselinePath); err == nil {
		if a.lastBase == nil || !reflect.DeepEqual(base, a.lastBase) {
			a.lastBase = base // else the same one: verdicts judged against it may stand
		}
	} else {
		in.BaselineErr = err
		if a.lastBase == nil {
			a.lastBase = &baseline.Baseline{Path: a.opts.BaselinePath}
		}
	}
	in.Baseline = a.lastBase
	if len(a.opts.Internal) > 0 {
		if a.merged == nil || a.merged.from != a.lastBase {
			merged := *in.Baseline
			merged.Internal = append(slices.Clone(merged.Internal), a.opts.Internal...)
			a.merged = &mergedBaseline{from: a.lastBase, merged: &merged}
		}
		in.Baseline = a.merged.merged
	}
	if q.NetNS == "" {
		q.NetNS = a.opts.NetNS
	}
	start := time.Now()
	// The package database's index (for the signs) does not depend on
	// the sockets: read it beside the collection.
	preloaded := make(chan struct{})
	go func() { a.signs.Preload(); close(preloaded) }()
	defer func() { <-preloaded }()
	snap, err := a.collector.Collect(q)
	if err != nil {
		return nil, fmt.Errorf("collect sockets: %w", err)
	}
	collected := time.Now()
	in.Snapshot = snap
	in.Traffic = a.meter.Read(snap)
	in.Traffic.SumByListener(verdict.ListenersOf(snap).Accepting)
	for _, w := range session.MaxStartups(procRoot, snap) {
		if !slices.Contains(snap.Warnings, w) {
			snap.Warnings = append(snap.Warnings, w)
		}
	}
	in.firewalls = a.readFirewalls(in)
	in.Blocks, _ = block.Blocker{}.List() // none readable: none to mark
	<-preloaded
	in.Signs = a.readSigns(snap)
	for pid, found := range a.sent.signs(in.Traffic, snap, in.Baseline, *a.opts.BulkOutbound) {
		in.Signs[pid] = append(in.Signs[pid], found...)
	}
	in.Programs = a.readPrograms(snap, in.Baseline)
	a.judge(in)
	if a.opts.HistoryPath != "" {
		_, err := os.Stat(a.opts.HistoryPath)
		in.Recording = err == nil
	}
	if a.opts.Trace != nil {
		kind := "full"
		if t, ok := a.collector.(interface{ Trace() string }); ok {
			kind = t.Trace()
		}
		fmt.Fprintf(a.opts.Trace, "%s sockets=%d collect_ms=%.1f assess_ms=%.1f collection=%s\n", start.Format(time.RFC3339Nano),
			len(snap.Sockets), collected.Sub(start).Seconds()*1000, time.Since(collected).Seconds()*1000, kind)
	}
	return in, nil
}

// WaitContainers waits (at most until ctx ends) for the engines to name
// the inspection's containers, and indexes them again: for one-shot
// commands, which print once.
func (a *App) WaitContainers(ctx context.Context, in *Inspection) {
	refs := in.Containers.Refs()
	if len(refs) == 0 {
		return // no container: nothing to wait for, nothing to judge again
	}
	a.containers.Wait(ctx, refs)
	a.judge(in)
}

// judge names the containers of in's snapshot, as far as known, and
// judges every socket, a container's listener by what publishes it.
func (a *App) judge(in *Inspection) {
	in.Containers = a.containers.Index(in.Snapshot, sockets.ReadCgroup)
	a.readDNAT(in)
	ifs, _ := verdict.LocalInterfaces() // without names, interfaces show as addresses
	on := judgedOn{sockets: in.Snapshot.Sockets, baseline: in.Baseline, firewalls: in.firewalls, blocks: in.Blocks,
		containers: in.Containers, interfaces: ifs, signs: in.Signs}
	assessor := a.assessor(in, ifs)
	in.Raw = assessor.AssessRaw(in.Snapshot.Raw) // a few: judged every time
	switch {
	case a.last == nil || !a.last.on.sameWorld(&on):
		in.Judged = assessor.Assess(in.Snapshot)
	default: // the verdicts of what did not change stand
		resigned := resigned(a.last.on.signs, on.signs)
		if a.last.on.sameSockets(&on) && len(resigned) == 0 {
			in.Judged = a.last.judged
		} else {
			in.Judged = assessor.AssessAgain(verdict.Earlier{Judged: a.last.judged, Seq: a.last.seq, Resigned: resigned}, in.Snapshot)
		}
	}
	a.last = &judgement{on: on, judged: in.Judged, seq: in.Snapshot.Seq()}
}

// assessor judges the sockets of in, with the firewalls, containers,
// blocks and signs read for it.
func (a *App) assessor(in *Inspection, ifs verdict.Interfaces) *verdict.Assessor {
	assessor := &verdict.Assessor{Catalog: a.catalog, Baseline: in.Baseline, Interfaces: ifs,
		Contained: func(s *sockets.Socket) *verdict.Containment {
			c := in.Containers.Inside(s)
			if c == nil {
				return nil
			}
			out := &verdict.Containment{Container: c.Label()}
			for _, p := range in.Containers.PublishedOf(s) {
				out.Published = append(out.Published, verdict.Published{Host: p.Host, Via: p.Via})
			}
			return out
		},
		IsContainer: in.Containers.HasAddr,
		Where:       func(s *sockets.Socket) baseline.Where { return verdict.Where(in.Containers, s) },
		Reach:       reachOf(in.firewalls, in.Containers),
		Blocks:      in.Blocks}
	if len(in.Signs) > 0 { // else no socket need ask
		assessor.Signs = func(p *sockets.Process) []signs.Sign { return in.Signs[p.PID] }
	}
	return assessor
}

// Origin tells how a process was started.
func (a *App) Origin(p *sockets.Process) origin.Info {
	return origin.Describe(procRoot, p.PID, p.PPID, p.Cgroup)
}

// ExplainPort says what a port number's range means.
func (a *App) ExplainPort(port uint16) string { return a.catalog.ExplainClass(port) }

// SocketUnits names the systemd socket units behind a listener systemd
// holds itself (socket activation).
func (a *App) SocketUnits(s *sockets.Socket) []string { return disable.SocketUnits(s) }

// Unit names the systemd unit of a process, where systemd runs; else "".
func Unit(p *sockets.Process) string { return origin.ManagedUnit(p.Cgroup) }

// readDNAT reads the port forwards of every namespace but a container's
// own — the host's, an engine's own — so that a container's listener
// published by a NAT rule the engine does not record shows as published.
// A namespace whose rules cannot be read adds a warning.
func (a *App) readDNAT(in *Inspection) {
	if len(in.Containers.Refs()) == 0 {
		return // no container to publish
	}
	for _, ns := range in.Snapshot.Namespaces {
		if ns.PID == 0 || in.Containers.Inside(&sockets.Socket{NetNS: ns.Inode}) != nil {
			continue // no file to enter it by, or a container's own
		}
		rules, err := kernel.ReadDNAT(procRoot + "/" + strconv.Itoa(ns.PID) + "/ns/net")
		if err != nil {
			msg := fmt.Sprintf("could not read the NAT rules of network namespace %s: %v", ns.Label(), err)
			if !slices.Contains(in.Snapshot.Warnings, msg) {
				in.Snapshot.Warnings = append(in.Snapshot.Warnings, msg)
			}
			continue
		}
		in.Containers.AddDNAT(rules)
	}
}
