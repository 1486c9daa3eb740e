package ring

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWall: a stamp read from CLOCK_BOOTTIME now is dated now, and one a
// second older a second earlier.
func TestWall(t *testing.T) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if d := Wall(uint64(ts.Nano())).Sub(now); d.Abs() > 50*time.Millisecond {
		t.Errorf("now is dated %v off", d)
	}
	if d := now.Sub(Wall(uint64(ts.Nano()) - uint64(time.Second))); d < 950*time.Millisecond || d > 1050*time.Millisecond {
		t.Errorf("a second ago is dated %v ago", d)
	}
}

// TestClockDatesAsWall: a Clock dates stamps as Wall does, within the
// time between two readings of the clocks, and keeps stamps in order.
func TestClockDatesAsWall(t *testing.T) {
	var c Clock
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	now := uint64(ts.Nano())
	for _, boot := range []uint64{now, now + 1000, now + uint64(clockFresh) + 1, now + 2*uint64(clockFresh)} {
		got, want := c.Wall(boot), Wall(boot)
		if d := got.Sub(want); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("stamp %d: %v, Wall says %v", boot, got, want)
		}
	}
	if a, b := c.Wall(now+5), c.Wall(now+6); !a.Before(b) {
		t.Errorf("stamps out of order: %v, %v", a, b)
	}
}
