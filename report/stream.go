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
// encoders take turns block by block, so memory stays two blocks however
// many sockets there are, and the output keeps the sockets' order.
const streamBlock = 1024

// streamJSON writes doc, whose last field is an empty "sockets" list, with
// the picked judged sockets streamed into that list, encoded on two cores.
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
	encs := [2]*blockEncoder{newBlockEncoder(snap, containers, pick), newBlockEncoder(snap, containers, pick)}
	first := true
	for start := 0; start < len(judged); start += 2 * streamBlock {
		mid := min(start+streamBlock, len(judged))
		end := min(mid+streamBlock, len(judged))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); encs[1].encode(judged[mid:end]) }()
		encs[0].encode(judged[start:mid])
		wg.Wait()
		for _, e := range encs {
			if e.err != nil {
				return e.err
			}
			out := e.buf
			if first && len(out) > 0 {
				out, first = out[1:], false // each socket comes after ",\n"; the first after "\n"
			}
			if _, err := bw.Write(out); err != nil {
				return err
			}
		}
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// blockEncoder encodes blocks of sockets, each after ",\n".
type blockEncoder struct {
	snap    *sockets.Snapshot
	pick    func(*verdict.Judged) bool
	sockets *socketEncoder
	buf     []byte
	err     error
	slowBuf bytes.Buffer
	enc     *json.Encoder
}

func newBlockEncoder(snap *sockets.Snapshot, containers *container.Index, pick func(*verdict.Judged) bool) *blockEncoder {
	e := &blockEncoder{snap: snap, pick: pick}
	e.enc = json.NewEncoder(&e.slowBuf)
	e.enc.SetEscapeHTML(false)
	e.sockets = newSocketEncoder(containers, e.slow)
	return e
}

// encode replaces the buffer with the picked sockets of judged.
func (e *blockEncoder) encode(judged []verdict.Judged) {
	e.buf = e.buf[:0]
	for i := range judged {
		if e.err != nil {
			return
		}
		if !e.pick(&judged[i]) {
			continue
		}
		e.buf = append(e.buf, ",\n"...)
		e.buf = e.sockets.append(e.buf, &judged[i], e.snap.Namespace(judged[i].Socket.NetNS))
	}
}

// slow encodes a socket the fast encoder leaves to encoding/json.
func (e *blockEncoder) slow(s Socket) []byte {
	e.slowBuf.Reset()
	if err := e.enc.Encode(s); err != nil {
		e.err = err
	}
	return escapeC1(bytes.TrimSuffix(e.slowBuf.Bytes(), []byte("\n")))
}
