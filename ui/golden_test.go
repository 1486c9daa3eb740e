package ui

import (
	"github.com/portwarden/portwarden/app"

	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden views under testdata/")

// golden compares a view with testdata/NAME.golden (plain text: the
// layout; styles are checked separately), or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./ui -update creates it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("%s differs from its golden file (go test ./ui -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenViews(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"listeners", nil},
			{"connections", []string{"2"}},
			{"all", []string{"3"}},
			{"processes", []string{"4"}},
			{"detail", []string{"down", "enter"}},
			{"detail-connection", []string{"2", "down", "down", "down", "enter"}},
			{"filter", []string{"3", "/", "r", "e", "d", "i", "s"}},
			{"help", []string{"?"}},
			{"raw", []string{"7"}},
			{"raw-detail", []string{"7", "down", "enter"}},
			{"program-detail", []string{"7", "down", "down", "enter"}},
		} {
			t.Run(fmt.Sprintf("%s-%dx%d", tc.name, w, h), func(t *testing.T) {
				m, _ := newTestModel(t, w, h, frameOf(fixtureSockets()))
				m = press(t, m, tc.keys...)
				golden(t, fmt.Sprintf("%s-%dx%d", tc.name, w, h), screen(m))
			})
		}
	}
}

var colourSGR = regexp.MustCompile(`\x1b\[[0-9;]*(38|48);[25];`)

// TestGoldenRates: from 140 columns the socket views show each
// connection's rate (or, on its first reading, its totals in
// parentheses; a dash where the kernel counts nothing) and each TCP
// listener's sum of what it accepted, the Processes view each process's
// sum (from 100), the Peers view each peer's.
func TestGoldenRates(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"connections", []string{"2"}},
		{"listeners", []string{"1"}},
		{"processes", []string{"4"}},
		{"peers", []string{"8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestModel(t, 160, 24, frameOf(fixtureSockets()))
			m = press(t, m, tc.keys...)
			golden(t, "rates-"+tc.name+"-160x24", screen(m))
		})
	}
}

func TestNoColorUsesAttributesOnly(t *testing.T) {
	m, _ := newTestModel(t, 120, 40, frameOf(fixtureSockets()))
	if !colourSGR.MatchString(m.View().Content) {
		t.Fatal("the colour theme emits no colour: the check below would prove nothing")
	}
	m = New(Config{Host: "web1", Root: true, Color: false, Now: func() time.Time { return testNow }}, &fixedBackend{frames: []*app.Inspection{frameOf(fixtureSockets())}})
	m = update(t, m, tea_WindowSize(120, 40))
	m = run(t, m, m.Init())
	m = press(t, m, "/")
	out := m.View().Content
	if colourSGR.MatchString(out) {
		t.Errorf("NO_COLOR view still sets colours: %q", colourSGR.FindString(out))
	}
	// The cursor stays visible (reverse video) and the words stay.
	if !regexp.MustCompile(`\x1b\[([0-9;]*;)?7[;m]`).MatchString(out) {
		t.Error("no reverse video for the cursor without colour")
	}
	for _, word := range []string{"UNEXPECTED crit", "expected", "0.0.0.0:23 *"} {
		if !strings.Contains(screen(m), word) {
			t.Errorf("without colour the view lacks %q", word)
		}
	}
}
