//go:build linux

package sockettest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Config describes a socket population.
type Config struct {
	Conns int     // established loopback connections; both ends held (2×Conns sockets)
	Procs int     // worker processes; at least 1
	V6    float64 // fraction of the connections made over ::1 (0 to 1)
	UDP   int     // bound UDP sockets per worker, on 127.0.0.1
}

// Worker is one process of a population.
type Worker struct {
	PID        int
	TCP4, TCP6 netip.AddrPort // listeners; TCP6 is invalid when V6 is 0
	UDP        []netip.AddrPort
}

// Population is a set of running workers and the sockets they hold.
type Population struct {
	Workers []Worker
	Sockets int // sockets held in all, listeners and UDP included
	Setup   time.Duration
	procs   []*child
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// BenchConfig is the population benchmarks run against: its size from
// PORTWARDEN_BENCH_CONNS and PORTWARDEN_BENCH_PROCS (default 10000/100,
// 20k sockets), a quarter of the connections over IPv6, one UDP socket a
// worker.
func BenchConfig() Config {
	return Config{Conns: envInt("PORTWARDEN_BENCH_CONNS", 10000), Procs: envInt("PORTWARDEN_BENCH_PROCS", 100), V6: 0.25, UDP: 1}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// Start launches a population and returns once every connection is
// established and accepted. Worker k dials worker k+1, so the two ends of a
// connection belong to different processes. Close stops it.
func Start(cfg Config) (*Population, error) {
	if cfg.Procs < 1 {
		return nil, errors.New("sockettest: Procs must be at least 1")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	p := &Population{}
	v6 := "0"
	if cfg.V6 > 0 {
		v6 = "1"
	}
	for range cfg.Procs {
		c, err := startChild(exe, []string{roleEnv + "=worker", v6Env + "=" + v6, fmt.Sprintf("%s=%d", udpEnv, cfg.UDP)}, nil)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.procs = append(p.procs, c)
		line, err := c.out.ReadString('\n')
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("sockettest: worker %d did not start: %w", c.cmd.Process.Pid, err)
		}
		w, err := parseAddrLine(line)
		if err != nil {
			p.Close()
			return nil, err
		}
		w.PID = c.cmd.Process.Pid
		p.Workers = append(p.Workers, w)
		p.Sockets += 1 + len(w.UDP)
		if w.TCP6.IsValid() {
			p.Sockets++
		}
	}

	// Each worker dials its successor: share out Conns, then V6 of them.
	n := len(p.Workers)
	dials := make([]int, n)
	for k := range n {
		dials[k] = cfg.Conns / n
		if k < cfg.Conns%n {
			dials[k]++
		}
	}
	for k, c := range p.procs {
		next := p.Workers[(k+1)%n]
		six := int(float64(dials[k])*cfg.V6 + 0.5)
		cmds := fmt.Sprintf("dial %s %d\n", next.TCP4, dials[k]-six)
		if six > 0 {
			cmds += fmt.Sprintf("dial %s %d\n", next.TCP6, six)
		}
		cmds += fmt.Sprintf("wait %d\n", dials[(k+n-1)%n])
		if _, err := io.WriteString(c.stdin, cmds); err != nil {
			p.Close()
			return nil, fmt.Errorf("sockettest: command worker: %w", err)
		}
	}
	for _, c := range p.procs {
		line, err := c.out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ready ") {
			p.Close()
			return nil, fmt.Errorf("sockettest: worker %d failed (see its stderr): %q %v", c.cmd.Process.Pid, line, err)
		}
	}
	p.Sockets += 2 * cfg.Conns
	p.Setup = time.Since(begin)
	return p, nil
}

func parseAddrLine(line string) (Worker, error) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "addr" {
		return Worker{}, fmt.Errorf("sockettest: unexpected worker line %q", line)
	}
	var w Worker
	var err error
	if w.TCP4, err = netip.ParseAddrPort(f[1]); err != nil {
		return w, err
	}
	if f[2] != "-" {
		if w.TCP6, err = netip.ParseAddrPort(f[2]); err != nil {
			return w, err
		}
	}
	for _, s := range f[3:] {
		a, err := netip.ParseAddrPort(s)
		if err != nil {
			return w, err
		}
		w.UDP = append(w.UDP, a)
	}
	return w, nil
}

// PIDs returns the workers' process IDs.
func (p *Population) PIDs() []int {
	pids := make([]int, len(p.Workers))
	for i, w := range p.Workers {
		pids[i] = w.PID
	}
	return pids
}

// Close stops every worker it started (by its own process handle, never by
// name) and waits for them.
func (p *Population) Close() error {
	var errs []error
	for _, c := range p.procs {
		errs = append(errs, c.stop())
	}
	p.procs = nil
	return errors.Join(errs...)
}

func startChild(exe string, env []string, files []*os.File) (*child, error) {
	return startChildAs(exe, exe, env, files)
}

func startChildAs(exe, argv0 string, env []string, files []*os.File) (*child, error) {
	cmd := exec.Command(exe)
	cmd.Args[0] = argv0
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = files
	cmd.SysProcAttr = childAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sockettest: start child: %w", err)
	}
	return &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}, nil
}

// stop closes the child's stdin, which ends it, kills it if it lingers, and
// reaps it.
func (c *child) stop() error {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill() // Go signals through a pidfd: never a recycled PID
		<-done
		return nil
	}
}

// Holder is a child process that holds files handed to it.
type Holder struct {
	PID int
	c   *child
}

// Hold starts a child process that inherits files (sockets, typically) and
// holds them open until Close.
func Hold(files ...*os.File) (*Holder, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c, err := startChild(exe, []string{roleEnv + "=holder"}, files)
	if err != nil {
		return nil, err
	}
	return &Holder{PID: c.cmd.Process.Pid, c: c}, nil
}

// HoldAs is Hold from another executable — a copy of the test binary put
// where a test wants it — named argv0 in the process list.
func HoldAs(exe, argv0 string, files ...*os.File) (*Holder, error) {
	c, err := startChildAs(exe, argv0, []string{roleEnv + "=holder"}, files)
	if err != nil {
		return nil, err
	}
	return &Holder{PID: c.cmd.Process.Pid, c: c}, nil
}

// Close ends the holder and waits for it.
func (h *Holder) Close() error { return h.c.stop() }

// HoldListener starts n holders sharing one fresh TCP listener on
// 127.0.0.1, of which the calling process keeps no copy: the listener
// lives exactly as long as the holders. Close each holder when done.
func HoldListener(n int) ([]*Holder, netip.AddrPort, error) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	f, err := ln.File()
	ln.Close()
	if err != nil {
		return nil, addr, err
	}
	defer f.Close()
	var hs []*Holder
	for range n {
		h, err := Hold(f)
		if err != nil {
			for _, h := range hs {
				h.Close()
			}
			return nil, addr, err
		}
		hs = append(hs, h)
	}
	return hs, addr, nil
}

// Running reports whether pid is a live process; a zombie (exited, not yet
// reaped) is not.
func Running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	rest := strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:])
	return rest != "" && rest[0] != 'Z' && rest[0] != 'X'
}
