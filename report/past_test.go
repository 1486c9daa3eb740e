package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/baseline"
	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// TestCheckJSONCarriesWhatCameAndWent: a listener that lived between two
// checks fails the check's JSON too — ok false, listed under
// between_checks with when it lived — as the text lists it; a record with
// nothing failing leaves ok alone and says so with an empty list.
func TestCheckJSONCarriesWhatCameAndWent(t *testing.T) {
	first := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
	irc := history.Lifetime{ID: 7, Kind: history.Listener, Proto: sockets.TCP, Local: netip.MustParseAddrPort("0.0.0.0:6667"),
		FirstSeen: first, LastSeen: first.Add(300 * time.Millisecond)}
	past := &sockets.Snapshot{Sockets: []sockets.Socket{{Proto: sockets.TCP, State: sockets.Listen, Local: irc.Local}}}
	pastJudged := (&verdict.Assessor{Catalog: catalog.Embedded(), Baseline: &baseline.Baseline{}}).Assess(past)
	pc := &PastCheck{Since: first.Add(-time.Hour), Past: []history.Lifetime{irc}, Judged: pastJudged,
		Failing: PastFailing(pastJudged, verdict.DefaultPolicy())}
	if len(pc.Failing) != 1 {
		t.Fatalf("an IRC listener between checks: %d failing, want 1", len(pc.Failing))
	}
	// A live snapshot with nothing failing.
	live := &sockets.Snapshot{Time: first.Add(time.Hour), Complete: true}
	base := &baseline.Baseline{Path: "/etc/portwarden/baseline.toml", Exists: true}
	var doc struct {
		OK            bool `json:"ok"`
		BetweenChecks *struct {
			Since   string `json:"since"`
			Failing []struct {
				LocalPort int      `json:"local_port"`
				Reasons   []string `json:"reasons"`
				FirstSeen string   `json:"first_seen"`
				LastSeen  string   `json:"last_seen"`
			} `json:"failing"`
		} `json:"between_checks"`
	}
	var out bytes.Buffer
	if err := WriteCheckJSON(&out, "h", live, nil, base, nil, Portless{}, verdict.DefaultPolicy(), pc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	b := doc.BetweenChecks
	if doc.OK || b == nil || len(b.Failing) != 1 || b.Failing[0].LocalPort != 6667 ||
		b.Failing[0].FirstSeen != "2026-12-03T04:00:00Z" || b.Failing[0].LastSeen != "2026-12-03T04:00:00.3Z" ||
		b.Since != "2026-12-03T03:00:00Z" || !strings.Contains(strings.Join(b.Failing[0].Reasons, ";"), "not in baseline") {
		t.Fatalf("check JSON after an IRC listener came and went: %s", out.String())
	}
	var text bytes.Buffer
	if err := WritePast(&text, pc); err != nil || !strings.Contains(text.String(), "between checks") ||
		!strings.Contains(text.String(), "0.0.0.0:6667") {
		t.Fatalf("the text: %v %q", err, text.String())
	}

	pc.Failing = nil
	out.Reset()
	doc.BetweenChecks = nil
	if err := WriteCheckJSON(&out, "h", live, nil, base, nil, Portless{}, verdict.DefaultPolicy(), pc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || !doc.OK || doc.BetweenChecks == nil ||
		doc.BetweenChecks.Failing == nil || len(doc.BetweenChecks.Failing) != 0 {
		t.Fatalf("check JSON with nothing failing between checks (%v): %s", err, out.String())
	}
}
