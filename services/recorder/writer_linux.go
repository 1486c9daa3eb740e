//go:build linux

package recorder

import (
	"time"

	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/recorder/probes"
	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/services/recorder/udpflows"
	"github.com/portwarden/portwarden/sockets"
)

// maxPending bounds the lifetimes a recorder holds unwritten while the
// disk is full: past it, the oldest ended ones are given up.
const maxPending = 100000

// makeRoom frees room in the record and sheds what it cannot hold, and
// counts both as dropped, for the next commit to record.
func (w *writer) makeRoom(t *tracker) (removed int64, shed int, err error) {
	removed, err = w.db.MakeRoom()
	shed = t.shed(maxPending)
	w.dropped += uint64(removed) + uint64(shed)
	return removed, shed, err
}

// writer commits the tracker's changes.
type writer struct {
	db     *history.DB
	source history.Source
	events *tcpevents.Reader
	probes *probes.Reader   // nil when scans are not traced
	udp    *udpflows.Reader // nil when UDP is polled
	scans  *scanTracker
	// closed-port probes counted without their sources since the last
	// commit, where the probe program is not loaded
	unnamedUDP, unnamedResets uint64
	scanSource                history.Source    // how scans are known (Stats.Scans)
	lost                      uint64            // the kernel's count at the last commit
	failures                  int               // commits failed in a row
	dropped                   uint64            // lifetimes given up since the last commit
	names                     map[uint64]string // the namespaces' names, by inode, as last read
}

// namesOf names the namespaces of snap by inode (ip netns, Docker).
func namesOf(snap *sockets.Snapshot) map[uint64]string {
	names := make(map[uint64]string, len(snap.Namespaces))
	for _, ns := range snap.Namespaces {
		if ns.Name != "" {
			names[ns.Inode] = ns.Name
		}
	}
	return names
}

func (w *writer) flush(t *tracker, now time.Time) error {
	copies, originals, n := t.takeDirty()
	c := history.Counters{Events: n, Source: w.source, Committed: now, Dropped: w.dropped,
		UnnamedUDP: w.unnamedUDP, UnnamedResets: w.unnamedResets, Scans: w.scanSource}
	var lost uint64
	if w.events != nil {
		var err error
		if lost, err = w.events.Lost(); err == nil && w.probes != nil {
			var probesLost uint64
			probesLost, err = w.probes.Lost()
			lost += probesLost
		}
		if err == nil && w.udp != nil {
			var udpLost uint64
			udpLost, err = w.udp.Lost()
			lost += udpLost
		}
		if err == nil && lost > w.lost {
			c.Lost = lost - w.lost
		}
	}
	ptrs := make([]*history.Lifetime, len(copies))
	for i := range copies {
		if o := &copies[i].Owner; o.NetNSName == "" {
			o.NetNSName = w.names[o.NetNS]
		}
		ptrs[i] = &copies[i]
	}
	if err := w.db.Write(ptrs, c); err != nil {
		w.failures++
		t.retry(originals, n)
		return err
	}
	w.failures, w.dropped, w.unnamedUDP, w.unnamedResets = 0, 0, 0, 0
	if c.Lost > 0 {
		w.lost = lost
	}
	t.committed(copies, originals)
	if scans := w.scans.take(w.names, now); len(scans) > 0 {
		if err := w.db.WriteScans(scans); err != nil {
			return err // written again with the next commit
		}
		w.scans.written(scans)
	}
	return nil
}
