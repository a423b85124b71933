package monitor

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
)

// attachConn is one attached client.
type attachConn struct {
	conn           *net.UnixConn
	stdout, stderr bool
	mu             sync.Mutex
	dead           bool
}

// frame writes one stdcopy frame; a client that cannot keep up for a
// second is dropped rather than stalling the container's output.
func (a *attachConn) frame(stream byte, p []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.frameLocked(stream, p)
}

func (a *attachConn) frameLocked(stream byte, p []byte) {
	if a.dead {
		return
	}
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	_ = a.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := a.conn.Write(hdr[:]); err != nil {
		a.dead = true
		return
	}
	if _, err := a.conn.Write(p); err != nil {
		a.dead = true
	}
}

// maxEarly bounds the output an interactive container (tty or stdin_open)
// keeps for its first attach: `run -it` attaches right after Start, and
// the shell's prompt must not be lost in between.
const maxEarly = 32 << 10

type earlyFrame struct {
	stream byte
	p      []byte
}

// broadcast sends output to the attached clients (called by the pumps).
func (m *monitor) broadcast(stream string, p []byte) {
	m.mu.Lock()
	if len(m.attachs) == 0 {
		if m.keepEarly && m.earlySize+len(p) <= maxEarly {
			m.early = append(m.early, earlyFrame{streamID(stream), append([]byte(nil), p...)})
			m.earlySize += len(p)
		}
		m.mu.Unlock()
		return
	}
	conns := make([]*attachConn, 0, len(m.attachs))
	for a := range m.attachs {
		conns = append(conns, a)
	}
	m.mu.Unlock()
	id := streamID(stream)
	for _, a := range conns {
		if id == 1 && a.stdout || id == 2 && a.stderr {
			a.frame(id, p)
		}
	}
}

func streamID(stream string) byte {
	if stream == "stderr" {
		return 2
	}
	return 1
}

// attach serves an attach stream until the current run's output has ended,
// the monitor finishes, or the client goes away.
func (m *monitor) attach(conn *net.UnixConn, br *bufio.Reader, req Request) {
	defer conn.Close()
	a := &attachConn{conn: conn, stdout: req.Stdout, stderr: req.Stderr}
	m.mu.Lock()
	rs := m.cur
	stdin := m.stdin
	if rs == nil {
		m.mu.Unlock()
		writeResp(conn, errResp(fmt.Errorf("container %s is not running: %w", m.cfg.Name, errdefs.ErrConflict)))
		return
	}
	// a.mu is taken before a is visible to broadcast, so that the answer
	// and the output kept for the first attach go out before live output.
	a.mu.Lock()
	m.attachs[a] = struct{}{}
	early := m.early
	m.early, m.earlySize, m.keepEarly = nil, 0, false
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.attachs, a)
		m.mu.Unlock()
	}()
	writeResp(conn, Response{})
	for _, f := range early {
		if f.stream == 1 && a.stdout || f.stream == 2 && a.stderr {
			a.frameLocked(f.stream, f.p)
		}
	}
	_ = conn.SetWriteDeadline(time.Time{})
	a.mu.Unlock()
	gone := make(chan struct{})
	go func() {
		defer m.recoverLog("attach stdin")
		defer close(gone)
		if req.Stdin && stdin != nil {
			_, _ = io.Copy(stdin, br)
			if rs.console == nil && !req.KeepStdin {
				// EOF from the client closes the process's stdin (run -i).
				m.mu.Lock()
				if m.stdin == stdin {
					_ = stdin.Close()
					m.stdin = nil
				}
				m.mu.Unlock()
			}
			return
		}
		_, _ = io.Copy(io.Discard, br)
	}()
	drained := make(chan struct{})
	go func() { <-rs.exited; rs.pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-m.done:
	case <-gone:
		if req.Stdin && stdin != nil {
			// Input ended: keep streaming output until the run ends.
			select {
			case <-drained:
			case <-m.done:
			}
		}
	}
}

// NamePath is the name index entry of a container name: a file holding the
// id of the container that has the name.
func NamePath(p state.Paths, name string) string {
	return filepath.Join(p.Root, "names", name)
}

// RemoveFiles deletes what a container has on disk: its persistent and
// volatile directories and its name index entry (when it still names id).
// The container must not run. Missing files are fine.
func RemoveFiles(ctx context.Context, p state.Paths, id, name string) error {
	var errs []error
	if err := os.RemoveAll(p.Container(id)); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(p.ContainerRun(id)); err != nil {
		errs = append(errs, err)
	}
	if name != "" {
		np := NamePath(p, name)
		if b, err := os.ReadFile(np); err == nil && string(b) == id {
			if err := os.Remove(np); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
