package ui

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/traffic"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// viewKind is one of the dashboard's views.
type viewKind int

const (
	viewListeners viewKind = iota
	viewConnections
	viewAll
	viewProcesses
	viewContainers
	viewHistory
	viewRaw
	viewPeers
	viewCount
)

var viewNames = [viewCount]string{"Listeners", "Connections", "All", "Processes", "Containers", "History", "Raw", "Peers"}

// socketless reports whether the view's rows are no live sockets: a
// process, a container, or a lifetime from the record.
func (v viewKind) socketless() bool {
	return v == viewProcesses || v == viewContainers || v == viewHistory || v == viewRaw || v == viewPeers
}

// includes reports whether a socket belongs in a socket view.
func (v viewKind) includes(s *sockets.Socket) bool {
	switch v {
	case viewListeners:
		return s.Listening()
	case viewConnections:
		return !s.Listening()
	}
	return true
}

// rowKey identifies a row across refreshes: a socket, or a process.
type rowKey struct {
	id    sockets.ID
	pid   int
	start uint64
	ctr   container.Ref
	raw   uint64 // a packet or raw socket's inode
	prog  uint32 // an eBPF program's ID
	peer  netip.Addr
	group string // a group of the History view
}

// rowStatus marks what happened to a row at the last refresh.
type rowStatus uint8

const (
	statusSteady rowStatus = iota
	statusNew              // appeared at the last refresh
	statusGone             // vanished; kept on screen for a while
)

// row is one line of the table: its cells are computed once per change,
// already made safe, so drawing a frame only pads and truncates.
type row struct {
	key       rowKey
	cells     []string
	search    string        // lower-case text the filter matches against
	fields    *rowFields    // what field terms (peer:, port:, …) match; nil: none
	class     verdict.Class // how the row is highlighted; its word is in the row too
	status    rowStatus
	goneSince int64 // unix nanoseconds when it vanished
	sortKeys  sortKeys
	// sig changes when anything shown changes; unchanged rows are reused.
	// Socket rows use cheap instead, which costs no allocation to compute.
	sig   string
	cheap socketSig
	sock  int // index of the socket in the current frame; -1 when gone

	// Bookkeeping of table.replace: the frame that offered the row, the
	// frame that placed it, and the row replacing it when it changed.
	gen, placed int64
	successor   *row
}

// socketSig is everything that can change in a socket's row while its ID
// stays the same. Process pointers are stable while the process is.
type socketSig struct {
	where    string // the container or namespace; a name arrives later
	state    sockets.State
	first    *sockets.Process
	n        int
	severity int
	complete bool
	blocked  bool // the peer is blocked: the verdict reads BLOCKED
	reach    string
	rx, tx   string // the rate cells
}

func signature(s *sockets.Socket, v *verdict.Verdict, complete bool, where string, t *traffic.View) socketSig {
	sig := socketSig{where: where, state: s.State, n: len(s.Processes), complete: complete}
	sig.rx, sig.tx, _ = connectionRates(t, s)
	if sig.n > 0 {
		sig.first = s.Processes[0]
	}
	sig.severity = v.Severity()
	sig.blocked = v.Blocked != nil
	sig.reach = string(v.Reach())
	return sig
}

// sortKeys are what the columns sort by.
type sortKeys struct {
	proto    sockets.Proto
	local    netip.AddrPort
	remote   netip.AddrPort
	state    string
	pid      int
	process  string
	user     string
	where    string
	service  string
	reach    string
	severity int
	count    int
	when     int64 // a lifetime's first sighting, Unix nanoseconds
	rate     traffic.Rate
}

// column describes one column of a view.
type column struct {
	title    string
	min      int // narrowest useful width
	ideal    int // width it grows to when there is room
	priority int // columns with the lowest priority go first when narrow
	compare  func(a, b *sortKeys) int
	// from is the narrowest terminal the column shows on (0: any): a
	// column worth less than room for the others waits for a wide one.
	from int
	// shorten fits a cell into fewer cells than it needs; nil cuts its
	// end with an ellipsis.
	shorten func(cell string, width int) string
}

func byLocal(a, b *sortKeys) int {
	return cmp.Or(cmp.Compare(a.local.Port(), b.local.Port()), cmp.Compare(a.proto, b.proto), a.local.Addr().Compare(b.local.Addr()), compareRemote(a, b))
}
func compareRemote(a, b *sortKeys) int {
	return cmp.Or(a.remote.Addr().Compare(b.remote.Addr()), cmp.Compare(a.remote.Port(), b.remote.Port()))
}
func byRemote(a, b *sortKeys) int { return cmp.Or(compareRemote(a, b), byLocal(a, b)) }
func byProto(a, b *sortKeys) int  { return cmp.Or(cmp.Compare(a.proto, b.proto), byLocal(a, b)) }
func byState(a, b *sortKeys) int  { return cmp.Or(strings.Compare(a.state, b.state), byLocal(a, b)) }
func byPID(a, b *sortKeys) int    { return cmp.Or(cmp.Compare(a.pid, b.pid), byLocal(a, b)) }
func byProcess(a, b *sortKeys) int {
	return cmp.Or(strings.Compare(a.process, b.process), cmp.Compare(a.pid, b.pid), byLocal(a, b))
}
func byUser(a, b *sortKeys) int { return cmp.Or(strings.Compare(a.user, b.user), byLocal(a, b)) }
func byWhere(a, b *sortKeys) int {
	return cmp.Or(strings.Compare(a.where, b.where), byLocal(a, b))
}
func byService(a, b *sortKeys) int {
	return cmp.Or(strings.Compare(a.service, b.service), byLocal(a, b))
}
func bySeverity(a, b *sortKeys) int {
	return cmp.Or(cmp.Compare(b.severity, a.severity), byLocal(a, b))
}
func byReach(a, b *sortKeys) int {
	return cmp.Or(cmp.Compare(reachOrder[b.reach], reachOrder[a.reach]), byLocal(a, b))
}

// reachOrder sorts the widest reach first.
var reachOrder = map[string]int{"public": 5, "unknown": 4, "internal": 3, "host": 2, "none": 1}

func byCount(a, b *sortKeys) int { return cmp.Or(cmp.Compare(b.count, a.count), byPID(a, b)) }

// socketColumns are the columns of the socket views; the status mark comes
// first. Listeners have no peer and few states, so there REMOTE and STATE
// stay narrow and give their room to what matters.
func socketColumns(v viewKind) []column {
	// A peer's address and port whole (255.255.255.255:65535), and a state
	// in ss's short names (TIME-WAIT): at 80 columns the service goes
	// first, and an address that is longer still loses its middle, never
	// its port.
	remote := column{title: "REMOTE", min: 21, ideal: 22, priority: 92, compare: byRemote, shorten: shortenAddr}
	// Who the firewall lets in is a listener's: connections have none.
	reach := column{title: "REACH", min: 8, ideal: 8, priority: 50, compare: byReach, from: 110}
	if v == viewConnections {
		reach.from = math.MaxInt
	}
	state := column{title: "STATE", min: 9, ideal: 11, priority: 75, compare: byState, shorten: shortenState}
	if v == viewListeners {
		remote = column{title: "REMOTE", min: 6, ideal: 6, priority: 20, compare: byRemote}
		state.min, state.ideal, state.priority = 6, 6, 40
	}
	// A listener's rates sum what it accepted: what the service carries.
	rates := rateColumns(140) // below, the addresses and names need the room more
	return append([]column{
		{title: "", min: 1, ideal: 1, priority: 100},
		{title: "PROTO", min: 5, ideal: 5, priority: 60, compare: byProto},
		{title: "LOCAL", min: 15, ideal: 22, priority: 95, compare: byLocal, shorten: shortenAddr},
		remote,
		state,
		{title: "PID", min: 5, ideal: 7, priority: 80, compare: byPID},
		{title: "PROCESS", min: 7, ideal: 14, priority: 85, compare: byProcess},
		{title: "USER", min: 5, ideal: 10, priority: 30, compare: byUser},
		{title: "WHERE", min: 5, ideal: 12, priority: 25, compare: byWhere, from: 100},
		{title: "SERVICE", min: 7, ideal: 12, priority: 70, compare: byService},
		reach,
	}, append(rates, column{title: "VERDICT", min: 15, ideal: 17, priority: 96, compare: bySeverity})...)
}

var processColumns = append([]column{
	{title: "", min: 1, ideal: 1, priority: 100},
	{title: "PID", min: 5, ideal: 7, priority: 95, compare: byPID},
	{title: "PROCESS", min: 7, ideal: 16, priority: 90, compare: byProcess},
	{title: "USER", min: 5, ideal: 10, priority: 60, compare: byUser},
	{title: "SOCKETS", min: 7, ideal: 8, priority: 50, compare: byCount},
	{title: "LISTENING ON", min: 12, ideal: 40, priority: 80, compare: byLocal},
}, append(rateColumns(100), column{title: "VERDICT", min: 10, ideal: 19, priority: 85, compare: bySeverity})...)

func (v viewKind) columns() []column {
	switch v {
	case viewProcesses:
		return processColumns
	case viewContainers:
		return containerColumns
	case viewHistory:
		return historyColumns
	case viewRaw:
		return rawColumns
	case viewPeers:
		return peerColumns
	}
	return socketColumns(v)
}

// addrString shows an IPv4-mapped IPv6 address as the IPv4 address it is.
func addrString(a netip.AddrPort) string {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()).String()
	}
	return a.String()
}

// socketRow builds the row of one socket.
func socketRow(s *sockets.Socket, v *verdict.Verdict, complete bool, where string, t *traffic.View) *row {
	pids, names, users := owners(s, complete)
	local := addrString(s.Local)
	if v.Exposure == verdict.ExposureAll {
		local += " *" // every interface: a mark besides the colour
	}
	remote := addrString(s.Remote)
	if s.Listening() {
		remote = "*:*"
	}
	proto := s.Proto.String()
	if s.IPVersion() == 6 {
		proto += "6"
	}
	service := v.Service
	if service == "" {
		service = "-"
	}
	reach := string(v.Reach())
	if reach == "" {
		reach = "-"
	}
	rx, tx, rate := connectionRates(t, s)
	r := &row{
		key:   rowKey{id: s.ID()},
		cells: []string{"", proto, local, remote, s.StateName(), pids, names, users, where, service, reach, rx, tx, v.ShortLabel()},
		class: v.Class(),
		sortKeys: sortKeys{proto: s.Proto, local: s.Local, remote: s.Remote, state: s.StateName(),
			process: names, user: users, where: where, service: service, reach: reach, severity: v.Severity(), rate: rate},
	}
	if len(s.Processes) > 0 {
		r.sortKeys.pid = s.Processes[0].PID
	}
	r.cheap = signature(s, v, complete, where, t)
	r.search = strings.ToLower(strings.Join(r.cells[1:], " "))
	return r
}

// owners renders a socket's PIDs, process names and users.
func owners(s *sockets.Socket, complete bool) (pids, names, users string) {
	if len(s.Processes) == 0 {
		if !complete && s.Inode != 0 {
			return "?", "?", "?"
		}
		return "-", "-", "-"
	}
	var p, n, u []string
	for _, proc := range s.Processes {
		p = append(p, strconv.Itoa(proc.PID))
		if name := safetext.Visible(proc.Name); !slices.Contains(n, name) {
			n = append(n, name)
		}
		if user := safetext.Visible(proc.User); !slices.Contains(u, user) {
			u = append(u, user)
		}
	}
	return strings.Join(p, ","), strings.Join(n, ","), strings.Join(u, ",")
}

// processRows folds a frame's sockets into one row per process.
func processRows(f *app.Inspection) []*row {
	type agg struct {
		p         *sockets.Process
		sockets   int
		listening []string
		worst     *verdict.Verdict
		severity  int
		lowest    netip.AddrPort
	}
	byPID := map[int]*agg{}
	var order []int
	holder := func(p *sockets.Process, v *verdict.Verdict) *agg {
		a := byPID[p.PID]
		if a == nil {
			a = &agg{p: p, severity: -1}
			byPID[p.PID] = a
			order = append(order, p.PID)
		}
		a.sockets++
		if sev := v.Severity(); sev > a.severity {
			a.severity, a.worst = sev, v
		}
		return a
	}
	for i := range f.Judged {
		s, v := f.Judged[i].Socket, f.Judged[i].Verdict
		for _, p := range s.Processes {
			a := holder(p, v)
			if s.Listening() {
				a.listening = append(a.listening, s.Proto.String()+"/"+strconv.Itoa(int(s.Local.Port())))
				if !a.lowest.IsValid() || s.Local.Port() < a.lowest.Port() {
					a.lowest = s.Local
				}
			}
		}
	}
	for i := range f.Raw { // they hear too: packet/eth0:all
		r := f.Raw[i].Socket
		for _, p := range r.Processes {
			a := holder(p, f.Raw[i].Verdict)
			a.listening = append(a.listening, r.KindLabel()+"/"+safetext.Visible(r.LocalLabel()))
		}
	}
	rates := f.Traffic.ByProcess()
	rows := make([]*row, 0, len(order))
	for _, pid := range order {
		a := byPID[pid]
		slices.Sort(a.listening)
		listening := strings.Join(slices.Compact(a.listening), " ")
		if listening == "" {
			listening = "-"
		}
		name, user := safetext.Visible(a.p.Name), safetext.Visible(a.p.User)
		rx, tx := sumRates(rates[pid])
		r := &row{
			key:   rowKey{pid: pid, start: a.p.StartTicks},
			cells: []string{"", strconv.Itoa(pid), name, user, strconv.Itoa(a.sockets), listening, rx, tx, a.worst.ShortLabel()},
			class: a.worst.Class(),
			sortKeys: sortKeys{pid: pid, process: name, user: user, count: a.sockets, severity: a.severity, local: a.lowest,
				rate: rates[pid]},
		}
		r.sig = strings.Join(r.cells, "\x00")
		r.search = strings.ToLower(strings.Join(r.cells[1:], " ") + " " + safetext.Visible(strings.Join(a.p.Cmdline, " ")))
		rows = append(rows, r)
	}
	return rows
}
