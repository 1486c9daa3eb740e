package ui

import (
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/portwarden/portwarden/app"
	"github.com/portwarden/portwarden/services/origin"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// mode routes keys: the root decides who gets them.
type mode int

const (
	modeNormal mode = iota
	modeFilter
	modeHelp
)

// Model is the dashboard's root model. It composes the views' tables, the
// filter input, the detail pane, the help and the open dialog or form, and
// dispatches messages. Its methods all take a pointer: Init, Update and
// the commands they make see one model, never a copy.
type Model struct {
	cfg     Config
	backend Backend
	keys    keyMap
	styles  Styles
	help    help.Model
	filter  textinput.Model

	mode   mode
	view   viewKind
	tables [viewCount]*table
	seen   [viewCount]int64 // the frame each table last showed

	frame    *app.Inspection
	frameSeq int64
	// unchanged marks a frame whose verdicts are the last frame's.
	unchanged bool
	summary   verdict.Summary
	loaded    bool
	paused    bool
	inflight  bool
	ticking   bool // a tick is scheduled: one chain of refreshes, never two

	detailOpen   bool
	warningsOpen bool // the lower pane shows every warning, whole
	detail       *detailPane
	origins      map[procKey]origin.Info  // how each process was started
	portClasses  map[uint16]string        // what each port number's range means
	socketUnits  map[sockets.ID][]string  // the socket units systemd holds a listener for
	firstSeen    map[sockets.ID]time.Time // since when the flight recorder has seen a socket

	// The History view's window, grouping, and the lifetimes each of its
	// group rows stands for.
	histWindow app.HistoryWindow
	histGroup  historyGrouping
	histGroups map[rowKey]*histGroup

	status    string
	statusErr bool
	statusAt  time.Time

	// focused is the open dialog or mark form: it gets every message.
	focused closer

	width, height int
}

// procKey identifies a process across PID reuse.
type procKey struct {
	pid   int
	start uint64
}

// Messages.
type (
	frameMsg struct {
		frame *app.Inspection
		err   error
	}
	tickMsg   struct{}
	detailMsg struct {
		proc        procKey
		origin      *origin.Info
		port        uint16
		portClass   string
		sock        sockets.ID
		socketUnits []string // nil when sock was not asked about
		seen        sockets.ID
		firstSeen   time.Time // zero when the record does not have it
	}
)

// New returns the dashboard.
func New(cfg Config, backend Backend) *Model {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.GoneAfter <= 0 {
		cfg.GoneAfter = 3 * cfg.Interval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	styles := NewStyles(cfg.Color)
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "process, port, address, service, user"
	inStyles := in.Styles()
	inStyles.Focused.Placeholder = styles.Muted
	inStyles.Blurred.Placeholder = styles.Muted
	in.SetStyles(inStyles)
	h := help.New()
	h.Styles = styles.Help
	keys := newKeyMap()
	if cfg.ReadOnly {
		keys.readOnly()
	}
	m := &Model{
		cfg:         cfg,
		backend:     backend,
		keys:        keys,
		styles:      styles,
		help:        h,
		filter:      in,
		origins:     map[procKey]origin.Info{},
		portClasses: map[uint16]string{},
		socketUnits: map[sockets.ID][]string{},
		firstSeen:   map[sockets.ID]time.Time{},
	}
	m.detail = newDetailPane(keys.DetailPane, styles)
	for v := range viewCount {
		m.tables[v] = newTable(v.columns(), defaultSort(v), keys.Table, styles)
	}
	return m
}

func defaultSort(v viewKind) int {
	switch v {
	case viewProcesses, viewContainers:
		return 1 // PID, CONTAINER
	case viewHistory:
		return 1 // FIRST SEEN
	case viewPeers:
		return len(peerColumns) - 1 // TRIED
	}
	return 2 // LOCAL
}

// Init starts the first collection, which counts as in flight like any.
func (m *Model) Init() tea.Cmd { return m.collect() }

// collect asks the backend for a frame, unless one is already on its way:
// at most one collection is ever in flight. It closes over the backend
// only.
func (m *Model) collect() tea.Cmd { return m.collectWith(sockets.Query{}) }

// collectFresh is collect reading everything again (r): nothing the
// backend remembers from earlier refreshes is trusted.
func (m *Model) collectFresh() tea.Cmd { return m.collectWith(sockets.Query{Fresh: true}) }

func (m *Model) collectWith(q sockets.Query) tea.Cmd {
	if m.inflight {
		return nil
	}
	m.inflight = true
	b, peers, past, window := m.backend, m.view == viewPeers, m.view == viewHistory, m.histWindow
	return func() tea.Msg {
		f, err := b.Inspect(q)
		if err == nil && peers {
			f.Peers = b.Peers(f)
		}
		if err == nil && past {
			f.Recent = b.History(f, window)
		}
		return frameMsg{frame: f, err: err}
	}
}

// tick schedules the next collection one interval after a frame arrived,
// so a slow collection never piles up. A frame asked for out of turn (r,
// an action's proof) finds a tick already scheduled and adds none.
func (m *Model) tick() tea.Cmd {
	if m.ticking {
		return nil
	}
	m.ticking = true
	return tea.Tick(m.cfg.Interval, func(time.Time) tea.Msg { return tickMsg{} })
}

// Update dispatches a message to the part of the model it concerns, and
// gives the table its new height when the lower pane opened or closed.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	wasOpen := m.paneOpen()
	cmd := m.dispatch(msg)
	if m.paneOpen() != wasOpen {
		m.resizeTables()
	}
	if m.detailOpen {
		m.detail.SetContent(m.detailText())
	}
	return m, cmd
}

func (m *Model) dispatch(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return nil
	case frameMsg:
		return m.onFrame(msg)
	case tickMsg:
		m.ticking = false
		if m.paused {
			return nil
		}
		return m.collect()
	case killPlanMsg:
		return m.onKillPlan(msg)
	case disablePlanMsg:
		return m.onDisablePlan(msg)
	case closePlanMsg:
		return m.onClosePlan(msg)
	case blockPlanMsg:
		return m.onBlockPlan(msg)
	case actionDoneMsg:
		return m.onActionDone(msg)
	case detailMsg:
		m.onDetail(msg)
		return nil
	}
	// ctrl+c quits whatever is open: a dialog's answer is then no.
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, m.keys.QuitNow) {
		return tea.Quit
	}
	// Everything else — keys, paste, cursor blink — goes to whoever has
	// the focus: an open dialog or form, the help, the filter, the table.
	switch {
	case m.focused != nil:
		return m.onFocused(msg)
	case m.mode == modeHelp:
		return m.onHelpMsg(msg)
	case m.mode == modeFilter:
		return m.onFilterMsg(msg)
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		return m.onKey(k)
	}
	return nil
}

func (m *Model) onDetail(msg detailMsg) {
	if msg.origin != nil {
		m.origins[msg.proc] = *msg.origin
	}
	if msg.port != 0 {
		m.portClasses[msg.port] = msg.portClass
	}
	if msg.socketUnits != nil {
		m.socketUnits[msg.sock] = msg.socketUnits
	}
	if !msg.firstSeen.IsZero() {
		m.firstSeen[msg.seen] = msg.firstSeen
	}
}

func (m *Model) table() *table { return m.tables[m.view] }

// onFrame applies a new frame, or shows why there is none.
func (m *Model) onFrame(msg frameMsg) tea.Cmd {
	m.inflight = false
	if msg.err != nil {
		m.status, m.statusErr, m.statusAt = "refresh failed: "+msg.err.Error(), true, time.Time{}
		return m.tick()
	}
	if m.status != "" && m.cfg.Now().Sub(m.statusAt) > statusTTL {
		m.status, m.statusErr = "", false // an old message or a cleared error
	}
	// The backend hands back the same verdicts when nothing changed:
	// then the summary and the rows built from them stand too.
	same := m.frame != nil && sameJudged(m.frame.Judged, msg.frame.Judged)
	m.frame = msg.frame
	m.frameSeq++
	m.loaded = true
	if !same {
		m.summary = verdict.Summarize(m.frame.Judged, verdict.DefaultPolicy())
	}
	m.unchanged = same && (m.frame.Traffic == nil || !m.frame.Traffic.Changed)
	m.showFrame()
	return tea.Batch(m.tick(), m.fetchDetail())
}

// showFrame brings the current view's table up to the current frame.
// A table that missed frames (another view was showing) is rebuilt without
// new/gone marks.
func (m *Model) showFrame() {
	if !m.loaded {
		return
	}
	t := m.table()
	first := m.seen[m.view] == 0 || m.seen[m.view] != m.frameSeq-1
	m.seen[m.view] = m.frameSeq
	if m.unchanged && !first && !m.view.socketless() && !t.marked() {
		return // the rows shown are this frame's already
	}
	now := m.cfg.Now()
	expired := func(since int64) bool { return now.Sub(time.Unix(0, since)) >= m.cfg.GoneAfter }
	t.replace(m.buildRows(t), m.frameSeq, first, now.UnixNano(), expired)
}

// sameJudged reports whether a and b are the same verdicts: the same
// slice, not merely equal ones.
func sameJudged(a, b []verdict.Judged) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// buildRows offers the current view's rows to its table for this frame;
// sockets whose row would not change keep their row object, without
// building a string.
func (m *Model) buildRows(t *table) []*row {
	gen := m.frameSeq
	if m.view.socketless() {
		var rows []*row
		switch m.view {
		case viewProcesses:
			rows = processRows(m.frame)
		case viewContainers:
			rows = containerRows(m.frame)
		case viewHistory:
			rows, m.histGroups = historyRows(m.frame.Recent, m.histGroup, !t.query.hasFields())
		case viewRaw:
			rows = rawRows(m.frame, m.where)
		case viewPeers:
			rows = peerRows(m.frame.Peers, m.cfg.Now(), m.frame.Traffic)
		}
		for i, r := range rows {
			sock := i
			if m.view == viewHistory {
				sock = r.sock // a lifetime's index in the window's, -1 for a group or a gap
			}
			rows[i] = t.offer(gen, t.index[r.key], r)
			rows[i].sock = sock
		}
		return rows
	}
	judged, complete := m.frame.Judged, m.frame.Snapshot.Complete
	rows := make([]*row, 0, len(judged))
	for i := range judged {
		s := judged[i].Socket
		if !m.view.includes(s) {
			continue
		}
		v := judged[i].Verdict
		prev := t.index[rowKey{id: s.ID()}]
		var r *row
		where := m.where(s)
		if prev == nil || prev.cheap != signature(s, v, complete, where, m.frame.Traffic) {
			r = socketRow(s, v, complete, where, m.frame.Traffic)
		}
		r = t.offer(gen, prev, r)
		r.sock = i
		rows = append(rows, r)
	}
	return rows
}

func (m *Model) setSize(w, h int) {
	m.width, m.height = w, h
	m.help.SetWidth(w)
	m.filter.SetWidth(max(10, w-4))
	m.resizeTables()
	if m.focused != nil {
		m.focused.SetSize(w, m.detailHeight())
	}
}

// selectedSocket returns the socket under the cursor and its verdict, or
// nil when the cursor is on a gone row or a process.
func (m *Model) selectedSocket() (*sockets.Socket, *verdict.Verdict) {
	r := m.table().selected()
	if r == nil || m.view.socketless() || r.sock < 0 || r.sock >= len(m.frame.Judged) {
		return nil, nil
	}
	j := &m.frame.Judged[r.sock]
	return j.Socket, j.Verdict
}

// selectedProcess returns the process under the cursor: the process row's,
// or the first owner of the selected socket.
func (m *Model) selectedProcess() *sockets.Process {
	if m.view == viewProcesses {
		r := m.table().selected()
		if r == nil || m.frame == nil {
			return nil
		}
		return m.frame.Snapshot.Process(r.key.pid, r.key.start)
	}
	if s, _ := m.selectedSocket(); s != nil && len(s.Processes) > 0 {
		return s.Processes[0]
	}
	if j := m.selectedRaw(); j != nil && len(j.Socket.Processes) > 0 {
		return j.Socket.Processes[0]
	}
	return nil
}
