package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/report"
	"github.com/portwarden/portwarden/safetext"
)

// peerCheck is what check asks of the peers: thresholds (0: off) and
// where to read.
type peerCheck struct {
	scanPorts, failedLogins int
	authLog                 string
	geoIPDirs               []string
}

// forever reaches back past any record or log.
const forever = 100 * 365 * 24 * time.Hour

// metrics reads every scan in the record and every failed login in the
// log, for the textfile's counters and top peers.
func (pc peerCheck) metrics(a *app.App, in *app.Inspection, historyDB string) []byte {
	a.EnablePeers(app.PeersOptions{Since: forever, AuthLog: pc.authLog, GeoIPDirs: pc.geoIPDirs, NoDNS: true,
		HistoryPath: historyDB, NoLifetimes: true})
	return report.PeerMetrics(a.Peers(in).Peers)
}

// judge adds to past the scans and failed-login bursts since it began
// (the last check; the last hour at the first) at or above the
// thresholds. What it cannot read when a threshold asks for it is an
// error: a check that cannot look must not pass.
func (pc peerCheck) judge(errOut io.Writer, a *app.App, in *app.Inspection, historyDB string, past *report.PastCheck) (*report.PastCheck, error) {
	if pc.scanPorts <= 0 && pc.failedLogins <= 0 {
		return past, nil
	}
	if past == nil {
		past = &report.PastCheck{Since: time.Now().Add(-time.Hour)}
	}
	window := time.Since(past.Since)
	a.EnablePeers(app.PeersOptions{Since: window, AuthLog: pc.authLog, GeoIPDirs: pc.geoIPDirs, NoDNS: true,
		HistoryPath: historyDB, NoLifetimes: true})
	v := a.Peers(in)
	for _, w := range v.Warnings {
		fmt.Fprintf(errOut, "portwarden check: %s\n", safetext.Visible(w))
	}
	if pc.scanPorts > 0 && !v.Know(app.KnowsScans) {
		return past, fmt.Errorf("--fail-on-scan: scans are not known here (see above)")
	}
	if pc.failedLogins > 0 && !v.Know(app.KnowsLogins) {
		return past, fmt.Errorf("--fail-on-failed-logins: failed logins are not known here (see above)")
	}
	for i := range v.Peers {
		p := &v.Peers[i]
		for _, s := range p.Scans {
			if pc.scanPorts > 0 && s.Ports >= pc.scanPorts && !s.Last.Before(past.Since) {
				past.Scans = append(past.Scans, s)
			}
		}
		for _, f := range p.Failures {
			if pc.failedLogins > 0 && f.Count >= pc.failedLogins {
				past.FailedLogins = append(past.FailedLogins, f)
			}
		}
	}
	return past, nil
}
