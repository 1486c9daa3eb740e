//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) && linux

package sockfiles

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// Scanner holds the loaded iterator program.
type Scanner struct {
	objs sockFilesObjects
}

// Open loads the iterator program. It needs root (CAP_BPF and CAP_PERFMON,
// or CAP_SYS_ADMIN), a kernel with BTF and task-file iterators (5.8 and
// later), and portwarden in the initial PID namespace: the iterator
// reports PIDs as the host numbers them, /proc as portwarden's own
// namespace does. The error says which is missing.
func Open() (*Scanner, error) {
	if !initialPIDNamespace() {
		return nil, errors.New("eBPF iterator: portwarden runs in a PID namespace of its own, where PIDs differ from the host's")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("eBPF iterator: lifting the locked-memory limit: %w", err)
	}
	s := &Scanner{}
	if err := loadSockFilesObjects(&s.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("eBPF iterator: the kernel's verifier refused the program: %+v", verr)
		}
		return nil, fmt.Errorf("eBPF iterator: loading the program: %w", err)
	}
	return s, nil
}

// recordSize is the size of struct record.
const recordSize = 16

// Scan calls fn with every socket every process holds: the process ID and
// the socket's inode, once per descriptor.
func (s *Scanner) Scan(fn func(pid int32, inode uint64)) error {
	it, err := link.AttachIter(link.IterOptions{Program: s.objs.SocketFiles})
	if err != nil {
		return fmt.Errorf("eBPF iterator: attaching: %w", err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return fmt.Errorf("eBPF iterator: opening: %w", err)
	}
	defer rd.Close()
	br := bufio.NewReaderSize(rd, 64<<10)
	var rec [recordSize]byte
	for {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("eBPF iterator: reading: %w", err)
		}
		fn(int32(binary.NativeEndian.Uint32(rec[0:])), binary.NativeEndian.Uint64(rec[8:]))
	}
}

// Close frees the program.
func (s *Scanner) Close() error { return s.objs.Close() }

// initialPIDNamespace reports whether this process lives in the initial
// PID namespace, whose inode the kernel fixes (PROC_PID_INIT_INO).
// /proc/self/status's NSpid does not tell: inside a PID namespace with its
// own /proc mounted, it lists one PID too.
func initialPIDNamespace() bool {
	link, err := os.Readlink("/proc/self/ns/pid")
	return err == nil && link == "pid:[4026531836]"
}
