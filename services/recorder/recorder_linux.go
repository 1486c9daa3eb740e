//go:build linux

package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/history"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/recorder/probes"
	"github.com/portwarden/portwarden/services/recorder/tcpevents"
	"github.com/portwarden/portwarden/services/recorder/udpflows"
	"github.com/portwarden/portwarden/sockets"
	"golang.org/x/sys/unix"
)

// Run records until ctx ends, then commits what it holds and returns nil;
// it returns an error when recording cannot start or the store keeps
// refusing writes.
func Run(ctx context.Context, o Options) error {
	release, err := lockRecord(o.DB.Path())
	if err != nil {
		return err
	}
	defer release()
	// The run is in the record before the recorder says it records; a
	// killed one before it is closed at its last commit.
	run, err := o.DB.StartRun(time.Now())
	if err != nil {
		return err
	}
	source := history.Poll
	var events *tcpevents.Reader
	if o.Source != "poll" {
		r, err := tcpevents.Open()
		switch {
		case err == nil:
			events, source = r, history.EBPF
			defer r.Close()
		case o.Source == "ebpf":
			return err
		default:
			o.status(fmt.Sprintf("%v: falling back to polling", err))
		}
	}
	var scanProbes *probes.Reader
	if events != nil {
		r, err := probes.Open()
		if err != nil {
			o.status(fmt.Sprintf("%v: scans are not recorded", err))
		} else {
			scanProbes = r
			defer r.Close()
		}
	}
	var udp *udpflows.Reader
	if events != nil {
		r, err := udpflows.Open()
		if err != nil {
			o.status(fmt.Sprintf("%v: UDP is recorded by polling", err))
		} else {
			udp = r
			defer r.Close()
		}
	}
	// Without the program, the kernel's counters still say how many
	// probes came, if not from whom.
	var counted *probes.Counters
	if scanProbes == nil {
		if c, err := probes.ReadCounters(snmpPath); err == nil {
			counted = &c
			o.status("probes of closed ports are counted from " + snmpPath + " (this namespace only), without their sources")
		} else {
			o.status(fmt.Sprintf("%v: probes of closed ports are not counted either", err))
		}
	}
	every := o.interval()
	polled := map[sockets.Proto]bool{sockets.UDP: true}
	if source == history.EBPF {
		traced, polledUDP := "TCP", fmt.Sprintf(", UDP by a netlink dump every %v", every)
		if udp != nil {
			traced, polledUDP = "TCP, UDP", fmt.Sprintf(" (UDP listeners by a netlink dump every %v)", every)
		}
		if scanProbes != nil {
			traced += " and probes of closed ports (scans)"
		}
		o.status(fmt.Sprintf("recording %s from the kernel's events (eBPF)%s, into %s", traced, polledUDP, o.DB.Path()))
	} else {
		polled[sockets.TCP] = true
		o.status(fmt.Sprintf("recording by a netlink dump every %v into %s: connections shorter than that may be missing", every, o.DB.Path()))
	}

	t := newTracker(newOwnerCache().owner)
	t.udpTraced = udp != nil
	scans := newScanTracker()
	collector := sockets.NewCollector()
	snap, err := collector.Collect(sockets.Query{})
	if err != nil {
		return fmt.Errorf("record: the first dump: %w", err)
	}
	previous, err := o.DB.OpenLifetimes()
	if err != nil {
		return err
	}
	lastCommit, err := o.DB.LastCommit()
	if err != nil {
		return err
	}
	t.start(snap.Sockets, snap.Time, source, previous, lastCommit)

	var wg sync.WaitGroup
	if events != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ev tcpevents.Event
			for {
				if err := events.Read(&ev); err != nil {
					if !errors.Is(err, tcpevents.ErrClosed) {
						o.errorLine(err.Error())
					}
					return
				}
				t.event(&ev)
				if ev.Kind == tcpevents.StateChange && ev.New == sockets.SynRecv {
					scans.handshake(ev.Remote.Addr(), ev.NetNS, ev.Time)
				}
			}
		}()
	}
	if udp != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f udpflows.Flow
			for {
				if err := udp.Read(&f); err != nil {
					if !errors.Is(err, udpflows.ErrClosed) {
						o.errorLine(err.Error())
					}
					return
				}
				t.flow(&f, f.NetNS)
			}
		}()
	}
	if scanProbes != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p probes.Probe
			for {
				if err := scanProbes.Read(&p); err != nil {
					if !errors.Is(err, probes.ErrClosed) {
						o.errorLine(err.Error())
					}
					return
				}
				scans.probe(&p)
			}
		}()
	}
	w := &writer{db: o.DB, source: source, events: events, probes: scanProbes, udp: udp, scans: scans, names: namesOf(snap),
		scanSource: history.Unrecorded}
	switch {
	case scanProbes != nil:
		w.scanSource = history.EBPF
	case counted != nil:
		w.scanSource = history.Poll
	}
	if _, err := o.DB.Trim(o.Retention, time.Now()); err != nil {
		o.errorLine(err.Error())
	}
	lastTrim, lastPoll := time.Now(), snap.Time
	said := map[string]*errorSaid{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if events != nil {
				events.Drain() // what the kernel reported before the stop is read
				if scanProbes != nil {
					scanProbes.Drain()
				}
				if udp != nil {
					udp.Drain()
				}
				wg.Wait()
				events.Close()
			}
			err := w.flush(t, time.Now())
			if history.IsFull(err) {
				w.makeRoom(t)
				err = w.flush(t, time.Now())
			}
			if err != nil {
				return err
			}
			return o.DB.StopRun(run, time.Now())
		case now := <-tick.C:
			snap, err := collector.Collect(sockets.Query{UDP: !polled[sockets.TCP]})
			if err != nil {
				o.sayError(said, fmt.Sprintf("record: dump: %v", err), now)
			} else {
				t.poll(snap.Sockets, snap.Time, lastPoll, polled)
				lastPoll, w.names = snap.Time, namesOf(snap)
				t.expireIdleFlows(now)
			}
			// A full disk is no reason to stop recording, nor to exit
			// into a restart loop: the oldest lifetimes make way, before
			// SQLite can no longer make any.
			free, size, ok := o.DB.Free()
			if ok && free < 2*reserve(size) {
				if err := o.DB.Checkpoint(); err != nil {
					o.sayError(said, err.Error(), now)
				}
				free, size, ok = o.DB.Free()
			}
			if ok && free < reserve(size) {
				removed, shed, roomErr := w.makeRoom(t)
				o.sayError(said, fmt.Sprintf("record: the disk holding %s is nearly full (%d KiB free): gave up the oldest lifetimes to go on recording, counted as dropped", o.DB.Path(), free>>10), now)
				if roomErr != nil || removed+int64(shed) == 0 && free == 0 {
					o.sayError(said, fmt.Sprintf("record: no room could be made in %s: %v", o.DB.Path(), roomErr), now)
				}
			}
			switch err := w.flush(t, now); {
			case err == nil:
			case history.IsFull(err):
				w.failures = 0
				_, _, roomErr := w.makeRoom(t)
				o.sayError(said, fmt.Sprintf("record: %v: gave up the oldest lifetimes to go on recording, counted as dropped", err), now)
				if roomErr != nil {
					o.sayError(said, roomErr.Error(), now)
				}
			default:
				o.sayError(said, err.Error(), now)
				if w.failures >= 10 {
					return fmt.Errorf("record: giving up after %d failed commits: %w", w.failures, err)
				}
			}
			if counted != nil {
				if c, err := probes.ReadCounters(snmpPath); err == nil {
					d := c.Since(*counted)
					w.unnamedUDP, w.unnamedResets, *counted = w.unnamedUDP+d.UDPNoPorts, w.unnamedResets+d.TCPResets, c
				}
			}
			if now.Sub(lastTrim) >= trimEvery {
				lastTrim = now
				if _, err := o.DB.Trim(o.Retention, now); err != nil {
					o.sayError(said, err.Error(), now)
				}
			}
		}
	}
}

// ownerCache reads owners from /proc, once per process: a process named
// by an event (PID and start time) is read on its first connection only.
// One gone before it is read keeps what the kernel told with the event:
// its name, user, and the unit or container of its cgroup.
type ownerCache struct {
	procs   *sockets.ProcessReader
	byStart map[procKey]history.Owner
	users   map[uint32]string
	cgroups *cgroupPaths
}

type procKey struct {
	pid   int
	start uint64
}

func newOwnerCache() *ownerCache {
	return &ownerCache{procs: sockets.NewProcessReader("/proc"), byStart: map[procKey]history.Owner{},
		users: map[uint32]string{}, cgroups: newCgroupPaths()}
}

// nsPerTick converts the kernel's process start (ns since boot) to the
// clock ticks /proc/PID/stat counts it in (USER_HZ, 100 on every Linux).
const nsPerTick = 10_000_000

// owner reads what the record keeps of the process ev names.
func (c *ownerCache) owner(ev *tcpevents.Event, netns uint64) history.Owner {
	pid, start, comm := ev.PID, ev.ProcessStart, ev.Comm
	key := procKey{pid, start}
	if o, ok := c.byStart[key]; ok && start != 0 && o.Process == comm {
		o.NetNS = netns
		return o
	}
	if pid == 0 {
		return history.Owner{NetNS: netns}
	}
	p, err := c.procs.Lookup(pid)
	if err != nil || p.Name != comm || (start != 0 && p.StartTicks != start/nsPerTick) {
		// Gone, or no longer the process the kernel named: what the
		// kernel read with the event is what is known.
		o := history.Owner{PID: pid, Process: comm, NetNS: netns, User: c.user(ev.UID)}
		cg, ok := c.cgroups.path(ev.Cgroup)
		if !ok && ev.CgroupTail != "" {
			// Its cgroup went with it: the names the kernel read with
			// the event still say the unit or the container.
			cg, ok = ev.CgroupTail, true
		}
		if ok {
			o.Unit = origin.ManagedUnit(cg)
			if ref, ok := container.FromCgroup(cg); ok {
				o.Container = ref.Short()
			}
		}
		return o
	}
	o := ownerOf(p, netns)
	if start != 0 {
		if len(c.byStart) >= 8192 {
			clear(c.byStart)
		}
		c.byStart[key] = o
	}
	return o
}

// user names a user ID as /proc-read owners are named: the account's
// name, or the ID in decimal.
func (c *ownerCache) user(uid uint32) string {
	if name, ok := c.users[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	if len(c.users) >= 1024 {
		clear(c.users)
	}
	c.users[uid] = name
	return name
}

// lockRecord makes sure one recorder writes a record: it holds an
// exclusive flock on the database file (SQLite's own locks are fcntl
// locks, which flock does not touch).
func lockRecord(path string) (func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if holder := history.LockHolder(path); holder != "" {
				return nil, fmt.Errorf("record: another recorder, %s, is writing %s", holder, path)
			}
			return nil, fmt.Errorf("record: another recorder is writing %s", path)
		}
		return nil, fmt.Errorf("record: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
