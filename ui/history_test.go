package ui

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// withRecent gives a frame what a flight recorder saw in the last hour:
// a 300 ms listener on a backdoor port, a 50 ms connection out to IRC, and
// an SSH client still connected — judged by the real application layer —
// and a minute when it was not recording.
func withRecent(t *testing.T, f *app.Inspection) *app.Inspection {
	t.Helper()
	at := func(d time.Duration) time.Time { return testNow.Add(-d) }
	ls := []history.Lifetime{
		{Kind: history.Listener, Proto: sockets.TCP, Local: netip.MustParseAddrPort("0.0.0.0:4444"), ServicePort: 4444,
			Owner:     history.Owner{PID: 3117, Process: "nc", Exe: "/tmp/.x/nc", User: "www-data"},
			FirstSeen: at(42 * time.Minute), LastSeen: at(42*time.Minute - 300*time.Millisecond), Source: history.EBPF},
		{Kind: history.Connection, Proto: sockets.TCP, Direction: history.Outbound, ServicePort: 6667,
			Local: netip.MustParseAddrPort("192.0.2.5:51544"), Remote: netip.MustParseAddrPort("198.51.100.9:6667"),
			Owner:     history.Owner{PID: 3120, Process: "bash", Exe: "/usr/bin/bash", User: "www-data"},
			FirstSeen: at(17 * time.Minute), LastSeen: at(17*time.Minute - 50*time.Millisecond), Source: history.EBPF},
		{Kind: history.Connection, Proto: sockets.TCP, Direction: history.Inbound, ServicePort: 22,
			Local: netip.MustParseAddrPort("192.0.2.5:22"), Remote: netip.MustParseAddrPort("198.51.100.20:40112"),
			Owner:     history.Owner{PID: 901, Process: "sshd", Exe: "/usr/sbin/sshd", User: "root", Unit: "ssh.service"},
			FirstSeen: at(5 * time.Minute), LastSeen: at(5 * time.Minute), Open: true, Source: history.EBPF},
	}
	gap := history.Gap{From: at(30 * time.Minute), To: at(29 * time.Minute), Unclean: true} // a recorder killed, restarted a minute later
	f.Recent = &app.Recent{Path: "/var/lib/portwarden/history.db", Lifetimes: ls, Judged: judgePast(t, f, ls), Source: history.EBPF,
		Gaps: []history.Gap{gap}}
	return f
}

// judgePast judges lifetimes with the real application layer.
func judgePast(t *testing.T, f *app.Inspection, ls []history.Lifetime) []verdict.Judged {
	t.Helper()
	a, err := app.New(app.Options{BaselinePath: filepath.Join(t.TempDir(), "none.toml"), AuditPath: filepath.Join(t.TempDir(), "audit.log")})
	if err != nil {
		t.Fatal(err)
	}
	return a.JudgePast(f, ls)
}

func TestHistoryView(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		m, _ := newTestModel(t, w, h, withRecent(t, frameOf(fixtureSockets())))
		m = press(t, m, "6")
		golden(t, "history-"+sizeName(w, h), screen(m))
		m = press(t, m, "down", "down", "enter") // the minute not recorded
		golden(t, "history-gap-"+sizeName(w, h), screen(m))
		m = press(t, m, "enter", "down", "enter") // the listener, oldest
		golden(t, "history-detail-"+sizeName(w, h), screen(m))
	}
	// The listener that lived 300 ms and the 50 ms connection to IRC are
	// judged like live ones.
	m, _ := newTestModel(t, 120, 40, withRecent(t, frameOf(fixtureSockets())))
	m = press(t, m, "6")
	s := screen(m)
	for _, want := range []string{"[6 History]", "0.0.0.0:4444", "300ms", "198.51.100.9:6667", "50ms", "open", "UNEXPECTED"} {
		if !strings.Contains(s, want) {
			t.Errorf("the History view lacks %q:\n%s", want, s)
		}
	}
}

func TestHistoryViewSaysWhyItIsEmpty(t *testing.T) {
	for _, tc := range []struct {
		recent *app.Recent
		want   string
	}{
		{&app.Recent{Missing: true}, "no flight recorder here: start portwarden record"},
		{&app.Recent{Err: errString("history: not a portwarden history database")}, "cannot be read: history: not a portwarden"},
		{&app.Recent{}, "nothing recorded in this window: [ looks earlier"},
	} {
		f := frameOf(fixtureSockets())
		f.Recent = tc.recent
		m, _ := newTestModel(t, 120, 40, f)
		if s := screen(press(t, m, "6")); !strings.Contains(s, tc.want) {
			t.Errorf("want %q in:\n%s", tc.want, s)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func sizeName(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }
