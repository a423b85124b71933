package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// defaultStopTimeout is docker's grace period.
const defaultStopTimeout = 10 * time.Second

// serveCtl accepts control connections until the listener closes.
func (m *monitor) serveCtl() {
	defer m.recoverLog("ctl")
	for {
		conn, err := m.ln.AcceptUnix()
		if err != nil {
			return
		}
		m.replies.Add(1)
		go func() {
			defer m.replies.Done()
			defer m.recoverLog("ctl conn")
			m.handleConn(conn)
		}()
	}
}

// waitReplies waits (briefly) for answers in flight to be written.
func (m *monitor) waitReplies() {
	done := make(chan struct{})
	go func() { m.replies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

func (m *monitor) handleConn(conn *net.UnixConn) {
	br := bufio.NewReaderSize(conn, 1024)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadBytes('\n')
	if err != nil {
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	var req Request
	resp := Response{Version: Version}
	if err := json.Unmarshal(line, &req); err != nil {
		resp.Error, resp.Kind = "bad request: "+err.Error(), "invalid"
	} else if req.Version != Version {
		resp.Error, resp.Kind = fmt.Sprintf("this monitor speaks protocol v%d, the client v%d", Version, req.Version), "precondition"
	} else if req.Op == "attach" {
		m.attach(conn, br, req) // owns conn from here
		return
	} else {
		resp = m.handle(req)
	}
	writeResp(conn, resp)
	_ = conn.Close()
}

func writeResp(conn *net.UnixConn, resp Response) {
	resp.Version = Version
	data, _ := json.Marshal(resp)
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Write(append(data, '\n'))
}

func errResp(err error) Response {
	return Response{Error: err.Error(), Kind: errKind(err)}
}

func (m *monitor) handle(req Request) Response {
	ctx := context.Background()
	switch req.Op {
	case "state":
		m.mu.Lock()
		st := m.st
		m.mu.Unlock()
		return Response{State: &st}
	case "wait":
		<-m.done
		m.mu.Lock()
		defer m.mu.Unlock()
		return Response{ExitCode: m.st.ExitCode}
	case "stop":
		return m.stop(ctx, req)
	case "kill":
		return m.killReq(ctx, req)
	case "pause", "unpause":
		return m.pause(ctx, req.Op == "pause")
	case "resize":
		m.mu.Lock()
		rs := m.cur
		m.mu.Unlock()
		if rs == nil || rs.console == nil {
			return errResp(fmt.Errorf("container %s has no terminal: %w", m.cfg.Name, errdefs.ErrFailedPrecondition))
		}
		if err := unix.IoctlSetWinsize(int(rs.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: req.Rows, Col: req.Cols}); err != nil {
			return errResp(err)
		}
		return Response{}
	}
	return errResp(fmt.Errorf("unknown operation %q: %w", req.Op, errdefs.ErrInvalidArgument))
}

// stop stops the container for good: the stop signal, then SIGKILL after
// the grace period, except when the signal cannot arrive (PID 1 of its
// namespace without a handler): then SIGKILL at once, and the reason says
// why. It answers once the final state is written.
func (m *monitor) stop(ctx context.Context, req Request) Response {
	name := req.Signal
	if name == "" {
		name = m.cfg.StopSignal
	}
	sig, err := ParseSignal(name)
	if err != nil {
		return errResp(err)
	}
	timeout := defaultStopTimeout
	if m.cfg.StopTimeout != nil {
		timeout = *m.cfg.StopTimeout
	}
	if req.TimeoutMs != nil {
		timeout = time.Duration(*req.TimeoutMs) * time.Millisecond
	}
	m.mu.Lock()
	m.st.Stopping = true
	rs := m.cur
	m.saveLocked(liveOnly)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	var resp Response
	if rs != nil {
		resp.Killed, resp.Reason = m.stopRun(ctx, rs, sig, timeout)
		// Stopping is set: no restart follows this exit.
		<-rs.recorded
	} else {
		<-m.done // between runs (restart back-off), or not started
	}
	m.mu.Lock()
	resp.ExitCode = m.st.ExitCode
	m.mu.Unlock()
	return resp
}

func (m *monitor) stopRun(ctx context.Context, rs *runState, sig unix.Signal, timeout time.Duration) (bool, string) {
	select {
	case <-rs.exited:
		return false, ""
	default:
	}
	if m.cfg.Init.Namespaces.NewPID {
		if ok, reason, err := SignalReachesInit(rs.pid, sig); err == nil && !ok {
			m.kill(ctx, rs)
			return true, reason
		}
	}
	if timeout == 0 {
		m.kill(ctx, rs)
		return true, "stop timeout is 0"
	}
	_ = rs.proc.Signal(sig)
	m.mu.Lock()
	paused := rs.paused
	m.mu.Unlock()
	if paused {
		// The signal waits for the thaw, as with docker.
		if err := rs.cg.Thaw(ctx); err == nil {
			m.mu.Lock()
			rs.paused = false
			m.mu.Unlock()
		}
	}
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-rs.exited:
		return false, ""
	case <-expire:
		m.kill(ctx, rs)
		return true, fmt.Sprintf("did not exit within %s of %s", timeout, SignalName(sig))
	}
}

// killReq sends a signal. As docker, it counts as a manual stop: the
// restart policy does not bring the container back.
func (m *monitor) killReq(ctx context.Context, req Request) Response {
	name := req.Signal
	if name == "" {
		name = "SIGKILL"
	}
	sig, err := ParseSignal(name)
	if err != nil {
		return errResp(err)
	}
	m.mu.Lock()
	rs := m.cur
	restarting := m.st.Status == StatusRestarting
	m.st.Stopping = true
	m.saveLocked(liveOnly)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	if rs == nil {
		if restarting {
			return Response{} // between two runs: not restarting is the kill
		}
		return errResp(fmt.Errorf("container %s is not running: %w", m.cfg.Name, errdefs.ErrConflict))
	}
	if sig == unix.SIGKILL {
		m.kill(ctx, rs)
	} else if err := rs.proc.Signal(sig); err != nil {
		return errResp(err)
	}
	m.event("kill", map[string]string{"signal": fmt.Sprint(int(sig))})
	return Response{}
}

func (m *monitor) pause(ctx context.Context, freeze bool) Response {
	m.mu.Lock()
	rs := m.cur
	m.mu.Unlock()
	if rs == nil {
		return errResp(fmt.Errorf("container %s is not running: %w", m.cfg.Name, errdefs.ErrConflict))
	}
	var err error
	if freeze {
		err = rs.cg.Freeze(ctx)
	} else {
		err = rs.cg.Thaw(ctx)
	}
	if err != nil {
		return errResp(err)
	}
	m.mu.Lock()
	rs.paused = freeze
	if m.cur == rs {
		if freeze {
			m.st.Status = StatusPaused
		} else {
			m.st.Status = StatusRunning
		}
		m.saveLocked(liveOnly)
	}
	m.mu.Unlock()
	if freeze {
		m.event("pause", nil)
	} else {
		m.event("unpause", nil)
	}
	return Response{}
}
