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

// broadcast sends output to the attached clients (called by the pumps).
func (m *monitor) broadcast(stream string, p []byte) {
	m.mu.Lock()
	if len(m.attachs) == 0 {
		m.mu.Unlock()
		return
	}
	conns := make([]*attachConn, 0, len(m.attachs))
	for a := range m.attachs {
		conns = append(conns, a)
	}
	m.mu.Unlock()
	var id byte = 1
	if stream == "stderr" {
		id = 2
	}
	for _, a := range conns {
		if id == 1 && a.stdout || id == 2 && a.stderr {
			a.frame(id, p)
		}
	}
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
	m.attachs[a] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.attachs, a)
		m.mu.Unlock()
	}()
	writeResp(conn, Response{})
	_ = conn.SetWriteDeadline(time.Time{})
	gone := make(chan struct{})
	go func() {
		defer m.recoverLog("attach stdin")
		defer close(gone)
		if req.Stdin && stdin != nil {
			_, _ = io.Copy(stdin, br)
			if rs.console == nil {
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
