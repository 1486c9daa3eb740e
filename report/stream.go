package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"sync"

	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/verdict"
	"github.com/portwarden/portwarden/sockets"
)

// streamBlock is how many sockets one encoder writes at a time. Two
// encoders take the blocks in turn, each with two buffers (one written
// while the next is encoded), so memory stays four blocks however many
// sockets there are, and the output keeps the sockets' order.
const streamBlock = 512

// streamJSON writes doc, whose last field is an empty "sockets" list, with
// the picked judged sockets streamed into that list: encoded on two cores
// while the blocks already encoded are written.
func streamJSON(w io.Writer, snap *sockets.Snapshot, containers *container.Index, doc any, judged []verdict.Judged, pick func(*verdict.Judged) bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	head := bytes.TrimSuffix(buf.Bytes(), []byte("[]}\n"))
	bw.Write(escapeC1(head))
	bw.WriteByte('[')

	// Block i is encoder i%2's; the writer takes them in order, and gives
	// each buffer back once written.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var encs [2]*blockEncoder
	for k := range encs {
		encs[k] = newBlockEncoder(snap, containers, pick)
		wg.Add(1)
		go func() { defer wg.Done(); encs[k].run(judged, k, stop) }()
	}
	defer func() { close(stop); wg.Wait() }()
	first := true
	for i := 0; ; i++ {
		e := encs[i%2]
		b, more := <-e.ready
		if !more {
			break // block i does not exist
		}
		if b.err != nil {
			return b.err
		}
		out := b.buf
		if first && len(out) > 0 {
			out, first = out[1:], false // each socket comes after ",\n"; the first after "\n"
		}
		if _, err := bw.Write(out); err != nil {
			return err
		}
		e.free <- b.buf
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// encodedBlock is one block's JSON, or the error that stopped it.
type encodedBlock struct {
	buf []byte
	err error
}

// blockEncoder encodes blocks of sockets, each socket after ",\n".
type blockEncoder struct {
	snap    *sockets.Snapshot
	pick    func(*verdict.Judged) bool
	sockets *socketEncoder
	ready   chan encodedBlock // encoded blocks, in order; closed after the last
	free    chan []byte       // buffers written, to encode into again
	err     error             // the slow encoder's, within one block
	slowBuf bytes.Buffer
	enc     *json.Encoder
}

func newBlockEncoder(snap *sockets.Snapshot, containers *container.Index, pick func(*verdict.Judged) bool) *blockEncoder {
	e := &blockEncoder{snap: snap, pick: pick, ready: make(chan encodedBlock), free: make(chan []byte, 2)}
	e.free <- nil
	e.free <- nil
	e.enc = json.NewEncoder(&e.slowBuf)
	e.enc.SetEscapeHTML(false)
	e.sockets = newSocketEncoder(containers, e.slow)
	return e
}

// run encodes blocks k, k+2, k+4… of judged into ready, until the last or
// until stop is closed.
func (e *blockEncoder) run(judged []verdict.Judged, k int, stop <-chan struct{}) {
	defer close(e.ready)
	for start := k * streamBlock; start < len(judged); start += 2 * streamBlock {
		var buf []byte
		select {
		case buf = <-e.free:
		case <-stop:
			return
		}
		b := e.encode(buf[:0], judged[start:min(start+streamBlock, len(judged))])
		select {
		case e.ready <- b:
		case <-stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// encode appends the picked sockets of judged to buf.
func (e *blockEncoder) encode(buf []byte, judged []verdict.Judged) encodedBlock {
	e.err = nil
	for i := range judged {
		if e.err != nil {
			break
		}
		if !e.pick(&judged[i]) {
			continue
		}
		buf = append(buf, ",\n"...)
		buf = e.sockets.append(buf, &judged[i], e.snap.Namespace(judged[i].Socket.NetNS))
	}
	return encodedBlock{buf, e.err}
}

// slow encodes a socket the fast encoder leaves to encoding/json.
func (e *blockEncoder) slow(s Socket) []byte {
	e.slowBuf.Reset()
	if err := e.enc.Encode(s); err != nil {
		e.err = err
	}
	return escapeC1(bytes.TrimSuffix(e.slowBuf.Bytes(), []byte("\n")))
}
