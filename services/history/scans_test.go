package history

import (
	"strings"
	"testing"
)

func TestPortRanges(t *testing.T) {
	for _, tc := range []struct {
		ports []uint16
		want  string
	}{
		{nil, ""},
		{[]uint16{22}, "22"},
		{[]uint16{1, 2, 3, 5, 65535}, "1-3,5,65535"},
		{[]uint16{0, 1, 65534, 65535}, "0-1,65534-65535"},
	} {
		if got := PortRanges(tc.ports); got != tc.want {
			t.Errorf("PortRanges(%v) = %q, want %q", tc.ports, got, tc.want)
		}
	}
	var every []uint16
	for p := uint16(1); p < 2000; p += 2 {
		every = append(every, p)
	}
	if got := PortRanges(every); len(got) > MaxPortList || !strings.HasSuffix(got, ",…") || !strings.HasPrefix(got, "1,3,5") {
		t.Errorf("1,000 scattered ports: %q (%d bytes), want at most %d ending in ,…", got, len(got), MaxPortList)
	}
}
