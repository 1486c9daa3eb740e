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
