package sockets

import (
	"slices"
	"testing"
	"time"
)

// fixtureProc is a /proc tree captured in files (testdata/proc): processes
// with their stat, status, cgroup, cmdline and exe, and fd/ links to
// sockets, pipes and devices — including a hostile process name with
// parentheses and spaces, a malformed stat, a malformed socket link and an
// entry that is not a process. Tests of parsing point the collector's
// readers at it, as prometheus/procfs's NewFS does.
const fixtureProc = "testdata/proc"

func TestFixtureListPIDs(t *testing.T) {
	pids, err := listPIDs(fixtureProc)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	if want := []int32{1, 555, 812, 990, 4242}; !slices.Equal(pids, want) {
		t.Errorf("listPIDs = %v, want %v (numeric entries only)", pids, want)
	}
}

func TestFixtureWalkOwners(t *testing.T) {
	pids, err := listPIDs(fixtureProc)
	if err != nil {
		t.Fatal(err)
	}
	// Socket indexes by inode: 1001 is shared by sshd and its session.
	want := map[uint64]int32{1001: 0, 1002: 1, 1003: 2, 2001: 3, 3001: 4, 9: 5}
	res := walkOwners(fixtureProc, pids, inMap(want))
	got := map[int32][]int32{}
	for _, h := range res.hits {
		got[h.socket] = append(got[h.socket], h.pid)
	}
	for _, holders := range got {
		slices.Sort(holders)
	}
	wantHolders := map[int32][]int32{0: {812, 990}, 1: {812}, 2: {990}, 3: {4242}, 4: {555}}
	for sock, pids := range wantHolders {
		if !slices.Equal(got[sock], pids) {
			t.Errorf("socket %d held by %v, want %v", sock, got[sock], pids)
		}
	}
	if len(got[5]) != 0 {
		t.Errorf("a pipe with the inode of a socket was taken for it: %v", got[5])
	}
	if len(res.unreadable) != 0 || res.vanished != 0 {
		t.Errorf("unreadable %v, vanished %d in a readable tree", res.unreadable, res.vanished)
	}
}

func TestFixtureProcesses(t *testing.T) {
	c := newProcessCache(fixtureProc)
	if want := time.Unix(1790000000, 0); !c.bootTime.Equal(want) {
		t.Errorf("boot time %v, want %v (btime in stat)", c.bootTime, want)
	}
	sshd, err := c.lookup(812)
	if err != nil {
		t.Fatal(err)
	}
	if sshd.Name != "sshd" || sshd.PPID != 1 || sshd.StartTicks != 1200 || sshd.UID != 0 || sshd.Exe != "/usr/sbin/sshd" ||
		!slices.Equal(sshd.Cmdline, []string{"/usr/sbin/sshd", "-D"}) || sshd.Cgroup != "/system.slice/ssh.service" ||
		!sshd.Start.Equal(c.bootTime.Add(12*time.Second)) {
		t.Errorf("sshd: %+v", sshd)
	}
	evil, err := c.lookup(4242)
	if err != nil {
		t.Fatal(err)
	}
	if evil.Name != "evil) (x" || evil.PPID != 1 || evil.UID != 65534 || len(evil.Cmdline) != 2 || evil.Cmdline[1] != "\x1b]0;pwned\x07" ||
		evil.Cgroup != "/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("hostile process: %+v", evil)
	}
	if again, _ := c.lookup(812); again != sshd {
		t.Error("the same process (same start time) was read twice")
	}
	if _, err := c.lookup(555); err == nil {
		t.Error("a malformed stat parsed")
	}
	if _, err := c.lookup(31337); err == nil {
		t.Error("a missing process was found")
	}
}
