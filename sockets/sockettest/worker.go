//go:build linux

// Package sockettest starts real socket populations for tests and
// benchmarks: worker processes holding loopback listeners, UDP sockets and
// established connections, and children that hold sockets handed to them.
// Workers are this same executable started again, so a program using the
// package calls RunIfChild first thing (TestMain, or main).
package sockettest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Environment variables that turn this executable into a child.
const (
	roleEnv = "PORTWARDEN_SOCKETTEST_ROLE"
	v6Env   = "PORTWARDEN_SOCKETTEST_V6"
	udpEnv  = "PORTWARDEN_SOCKETTEST_UDP"
)

// RunIfChild runs the child's part and exits when this process was started
// by Start or Hold; otherwise it returns at once.
func RunIfChild() {
	switch os.Getenv(roleEnv) {
	case "worker":
		if err := runWorker(); err != nil {
			fmt.Fprintln(os.Stderr, "sockettest worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "systemd-box":
		err := runBoxInit() // returns only when it could not become systemd
		fmt.Fprintln(os.Stderr, "sockettest systemd box:", err)
		os.Exit(1)
	case "holder":
		// Hold the inherited files until the parent closes our stdin.
		buf := make([]byte, 1)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				os.Exit(0)
			}
		}
	}
}

// noKeepAlive, with a negative KeepAlive beside it, turns off TCP
// keepalive (Enable false alone leaves Go's 15 s probes on): at 100k
// loopback connections those probes, sent together, overflow the
// kernel's backlog while the machine is busy, and unanswered ones abort
// connections — a population decayed by tens of thousands in minutes.
var noKeepAlive = net.KeepAliveConfig{Enable: false}

// worker holds one process's sockets.
type worker struct {
	mu       sync.Mutex
	held     []net.Conn
	accepted atomic.Int64
}

func (w *worker) keep(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST on exit: no TIME_WAIT left behind
	}
	w.mu.Lock()
	w.held = append(w.held, c)
	w.mu.Unlock()
}

func (w *worker) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		w.keep(c)
		w.accepted.Add(1)
	}
}

// runWorker speaks a line protocol on stdin/stdout:
//
//	-> addr TCP4 TCP6|- UDP...      (once, at start)
//	<- dial ADDR N                  dial N connections to ADDR
//	<- wait M                       wait until M connections were accepted
//	-> ready ACCEPTED
//
// and exits when stdin closes.
func runWorker() error {
	w := &worker{}
	lc := net.ListenConfig{KeepAlive: -1, KeepAliveConfig: noKeepAlive}
	ln4, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go w.serve(ln4)
	addr6 := "-"
	if os.Getenv(v6Env) == "1" {
		ln6, err := lc.Listen(context.Background(), "tcp6", "[::1]:0")
		if err != nil {
			return err
		}
		go w.serve(ln6)
		addr6 = ln6.Addr().String()
	}
	line := []string{"addr", ln4.Addr().String(), addr6}
	nUDP, _ := strconv.Atoi(os.Getenv(udpEnv))
	for range nUDP {
		pc, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer pc.Close()
		line = append(line, pc.LocalAddr().String())
	}
	fmt.Println(strings.Join(line, " "))

	d := net.Dialer{KeepAlive: -1, KeepAliveConfig: noKeepAlive, Timeout: 10 * time.Second}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 2 && len(f) != 3 {
			return fmt.Errorf("bad command %q", in.Text())
		}
		switch f[0] {
		case "dial":
			n, _ := strconv.Atoi(f[2])
			for range n {
				c, err := d.Dial("tcp", f[1])
				if err != nil {
					return fmt.Errorf("dial %s: %w", f[1], err)
				}
				w.keep(c)
			}
		case "wait":
			m, _ := strconv.ParseInt(f[1], 10, 64)
			deadline := time.Now().Add(60 * time.Second)
			for w.accepted.Load() < m {
				if time.Now().After(deadline) {
					return fmt.Errorf("accepted %d of %d connections in 60s", w.accepted.Load(), m)
				}
				time.Sleep(2 * time.Millisecond) // polling our own counter, not synchronising with the test
			}
			fmt.Println("ready", w.accepted.Load())
		}
	}
	return nil
}

// childAttr makes a child die with its parent.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
