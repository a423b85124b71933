package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/berthdev/berth/engine/cgroups"
	"github.com/berthdev/berth/engine/netspec"
	"github.com/berthdev/berth/engine/runtime"
	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Restart back-off, as docker's: 100 ms doubling per restart, at most a
// minute, back to 100 ms once a run lasted 10 s.
const (
	backoffStart = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

// pumpDrain bounds how long the log pumps may take to see EOF once the
// container's init is gone (a process that escaped with the pipe open).
const pumpDrain = 2 * time.Second

// runState is one run of the container (one init).
type runState struct {
	proc    *runtime.Process
	cg      *cgroups.Cgroup
	pid     int
	started time.Time
	console *os.File
	// exited is closed when the init has been reaped; status is then set.
	exited chan struct{}
	// recorded is closed once the exit is in the state (before the run's
	// cgroup and network endpoints are taken down).
	recorded chan struct{}
	status   runtime.ExitStatus
	// cancel stops the run's goroutines (healthcheck, DNS).
	cancel   context.CancelFunc
	pumps    sync.WaitGroup
	readers  []*os.File
	attached bool
	paused   bool
}

// supervise runs the container until it has stopped for good and returns
// the monitor's exit code.
func (m *monitor) supervise(ready *os.File) int {
	ctx := context.Background()
	go m.serveCtl()
	first := true
	backoff := backoffStart
	m.mu.Lock()
	m.st.RestartCount = 0
	m.mu.Unlock()
	for {
		rs, err := m.startOnce(ctx)
		var code int
		if err != nil {
			code = startErrCode(err)
			m.mu.Lock()
			if first && (m.st.Status == "" || m.st.Status == StatusCreated) {
				m.st.Status = StatusCreated
			} else {
				m.st.Status = StatusExited
				m.st.FinishedAt = time.Now()
			}
			m.st.Error, m.st.ExitCode, m.st.Pid, m.st.PidStart = err.Error(), code, 0, 0
			m.saveLocked(persist)
			m.mu.Unlock()
			if first {
				report(ready, err)
				m.finish(ctx)
				return 1
			}
			m.event("die", map[string]string{"exitCode": strconv.Itoa(code)})
		} else {
			m.mu.Lock()
			m.cur = rs
			m.st.Status = StatusRunning
			m.st.Pid = rs.pid
			m.st.PidStart, _ = pidStartTime(rs.pid)
			m.st.StartedAt = rs.started
			m.st.Error, m.st.ExitCode, m.st.OOMKilled = "", 0, false
			if m.hasHealthcheck() {
				m.st.Health = &Health{Status: HealthStarting}
			}
			// Persisted before the start is reported (synced after it):
			// a reboot from now on shows the container as having run.
			m.saveLocked(persistNow)
			m.mu.Unlock()
			if first {
				report(ready, nil)
				first = false
				// Off the start's critical path: out of the caller's
				// cgroup (a CI job's or a login session's, which may be
				// killed as a whole) into berth's own.
				if err := m.cgm.PlaceMonitor(ctx, os.Getpid()); err != nil {
					m.log.Warn("place monitor in its cgroup", "err", err)
				}
				// The start is over: from now on a small heap (earlier, the
				// lower goal only made the start collect more often).
				debug.SetGCPercent(gcPercent)
				go m.trimLoop()
			}
			m.mu.Lock()
			m.saveLocked(persist)
			m.mu.Unlock()
			m.event("start", nil)
			code = m.waitRun(ctx, rs)
		}
		if !m.restartNext(code, time.Since(startedOf(rs)), &backoff) {
			break
		}
	}
	m.finish(ctx)
	return 0
}

func startedOf(rs *runState) time.Time {
	if rs == nil {
		return time.Now()
	}
	return rs.started
}

// startErrCode is the exit code docker records for a start that failed.
func startErrCode(err error) int {
	var ce interface{ ExitCode() int }
	if errors.As(err, &ce) {
		return ce.ExitCode()
	}
	return 128
}

// restartNext applies the restart policy after a run that ended with code
// having lasted ran: it waits out the back-off (status restarting) and
// reports whether to start again.
func (m *monitor) restartNext(code int, ran time.Duration, backoff *time.Duration) bool {
	m.mu.Lock()
	if m.st.Stopping || !shouldRestart(m.cfg.Restart, code, m.st.RestartCount) {
		m.mu.Unlock()
		return false
	}
	if ran >= backoffReset {
		*backoff = backoffStart
	}
	delay := *backoff
	*backoff = min(*backoff*2, backoffMax)
	m.st.Status = StatusRestarting
	m.st.RestartCount++
	m.saveLocked(liveOnly)
	m.mu.Unlock()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-m.wake:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.Stopping {
		m.st.Status = StatusExited
		m.saveLocked(persist)
		return false
	}
	return true
}

// shouldRestart is docker's restart policy decision (before back-off).
func shouldRestart(p RestartPolicy, code, restarts int) bool {
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaxRetries <= 0 || restarts < p.MaxRetries)
	}
	return false
}

// startOnce creates the cgroup, starts the init (network attached before it
// runs) and the log pumps. On error nothing of the run is left.
func (m *monitor) startOnce(ctx context.Context) (_ *runState, err error) {
	rs := &runState{exited: make(chan struct{}), recorded: make(chan struct{})}
	runCtx, cancel := context.WithCancel(context.Background())
	rs.cancel = cancel
	defer func() {
		if err != nil {
			cancel()
			if rs.attached {
				_ = m.net.Detach(context.WithoutCancel(ctx), m.id)
			}
			for _, r := range rs.readers {
				_ = r.Close()
			}
			if rs.cg != nil {
				if rerr := rs.cg.Remove(context.WithoutCancel(ctx)); rerr != nil {
					m.log.Warn("remove cgroup after failed start", "err", rerr)
				}
			}
		}
	}()
	// On v2 the init is cloned into its cgroup, which must exist first. On
	// v1 and hybrid hosts the cgroup is made while the init boots (in
	// BeforeRelease, before it may fork), off the start's critical path.
	fd := -1
	if m.cgm.Mode().Unified() {
		if rs.cg, err = m.createCgroup(ctx); err != nil {
			return nil, err
		}
		if fd, err = rs.cg.FD(); err != nil {
			return nil, err
		}
	}
	var opts runtime.StartOptions
	var ours []*os.File // the child's ends, closed once it has them
	closeOurs := func() {
		for _, f := range ours {
			_ = f.Close()
		}
		ours = nil
	}
	defer closeOurs()
	if !m.cfg.Init.Tty {
		outR, outW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			_ = outR.Close()
			_ = outW.Close()
			return nil, err
		}
		rs.readers = append(rs.readers, outR, errR)
		ours = append(ours, outW, errW)
		opts.Stdout, opts.Stderr = outW, errW
	}
	if m.cfg.OpenStdin && !m.cfg.Init.Tty {
		inR, inW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		ours = append(ours, inR)
		opts.Stdin = inR
		m.mu.Lock()
		m.stdin = inW
		m.mu.Unlock()
	}
	if fd > 0 {
		opts.CgroupFD = fd
	}
	opts.Self = m.self
	initCfg := m.cfg.Init
	if err := m.resolveJoins(&initCfg.Namespaces); err != nil {
		return nil, err
	}
	opts.BeforeRelease = func(pid int) error {
		if rs.cg == nil {
			cg, err := m.createCgroup(ctx)
			if err != nil {
				return err
			}
			rs.cg = cg
			if err := cg.Apply(pid); err != nil {
				return err
			}
		}
		var res netspec.AttachResult
		embedded := false
		mode := m.cfg.Network.Mode
		if mode == "bridge" || mode == "none" && m.net != nil {
			m.mu.Lock()
			stale := len(m.st.Networks) > 0
			m.mu.Unlock()
			if stale {
				// A monitor that died left its attachment: undo it first.
				if err := m.net.Detach(ctx, m.id); err != nil {
					m.log.Warn("detach stale networks", "err", err)
				}
			}
			// none: the networker brings the loopback up.
			r, err := m.net.Attach(ctx, netspec.AttachRequest{
				ContainerID: m.id, ContainerName: m.cfg.Name, Project: m.cfg.Project,
				Pid: pid, Spec: m.cfg.Network,
			})
			if err != nil {
				return fmt.Errorf("container %s: attach networks: %w", m.cfg.Name, err)
			}
			rs.attached = true
			res = r
			if mode == "bridge" {
				embedded = true
				go m.serveDNS(runCtx, pid)
			}
			m.mu.Lock()
			m.st.Networks, m.st.Ports = r.Networks, r.Ports
			m.mu.Unlock()
		}
		return writeFiles(m.dir, &m.cfg, res, embedded)
	}
	proc, err := runtime.Start(ctx, initCfg, opts)
	closeOurs()
	if err != nil {
		return nil, err
	}
	rs.proc, rs.pid, rs.started = proc, proc.Pid, time.Now()
	go func() {
		defer m.recoverLog("wait")
		st, werr := proc.Wait()
		if werr != nil {
			m.log.Warn("wait for init", "err", werr)
		}
		rs.status = st
		close(rs.exited)
	}()
	m.mu.Lock()
	m.keepEarly = m.cfg.Init.Tty || m.cfg.OpenStdin
	m.early, m.earlySize = nil, 0
	m.mu.Unlock()
	if proc.Console != nil {
		rs.console = proc.Console
		rs.readers = append(rs.readers, proc.Console)
		m.mu.Lock()
		m.stdin = proc.Console
		m.mu.Unlock()
		m.startPump(rs, "stdout", proc.Console)
	} else {
		m.startPump(rs, "stdout", rs.readers[0])
		m.startPump(rs, "stderr", rs.readers[1])
	}
	if hc := m.healthcheck(); hc != nil {
		go m.runHealth(runCtx, rs, hc)
	}
	return rs, nil
}

// createCgroup makes the container's cgroup; one left by a monitor that
// was killed is emptied and made afresh.
func (m *monitor) createCgroup(ctx context.Context) (*cgroups.Cgroup, error) {
	cg, err := m.cgm.Create(ctx, m.cfg.Cgroup.Project, m.id, m.cfg.Cgroup.Limits)
	if errdefs.IsAlreadyExists(err) {
		if old, lerr := m.cgm.Load(m.cfg.Cgroup.Project, m.id); lerr == nil {
			_ = old.Kill(ctx)
			_ = old.Remove(ctx)
		}
		cg, err = m.cgm.Create(ctx, m.cfg.Cgroup.Project, m.id, m.cfg.Cgroup.Limits)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", m.cfg.Name, err)
	}
	return cg, nil
}

func (m *monitor) startPump(rs *runState, stream string, r *os.File) {
	rs.pumps.Add(1)
	go func() {
		defer rs.pumps.Done()
		defer m.recoverLog("log " + stream)
		pump(m.jlog, stream, r, m.broadcast)
	}()
}

func (m *monitor) serveDNS(ctx context.Context, pid int) {
	defer m.recoverLog("dns")
	if err := m.net.ServeDNS(ctx, m.id, pid); err != nil && ctx.Err() == nil {
		m.log.Warn("dns", "err", err)
	}
}

// recoverLog keeps a goroutine's panic from killing the monitor (and with
// it the container's output pipes).
func (m *monitor) recoverLog(what string) {
	if r := recover(); r != nil {
		m.log.Error("panic", "in", what, "panic", r)
	}
}

// waitRun waits for the run to end, tears it down and records the exit.
// It returns the exit code.
func (m *monitor) waitRun(ctx context.Context, rs *runState) int {
	<-rs.exited
	rs.cancel()
	if !m.cfg.Init.Namespaces.NewPID {
		// Processes that share the host's PID namespace do not die with
		// the init: the cgroup takes them.
		_ = rs.cg.Kill(ctx)
	}
	drained := make(chan struct{})
	go func() { rs.pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(pumpDrain):
		_ = rs.cg.Kill(ctx)
		for _, r := range rs.readers {
			_ = r.SetReadDeadline(time.Now())
		}
		<-drained
	}
	for _, r := range rs.readers {
		_ = r.Close()
	}
	oom := rs.cg.OOMKilled()
	code := rs.status.Code
	m.mu.Lock()
	m.cur = nil
	if m.stdin != nil {
		_ = m.stdin.Close()
		m.stdin = nil
	}
	m.st.Status = StatusExited
	m.st.ExitCode = code
	m.st.FinishedAt = time.Now()
	m.st.OOMKilled = oom
	m.st.Pid, m.st.PidStart = 0, 0
	m.st.Networks, m.st.Ports = nil, nil
	if m.st.Health != nil {
		m.st.Health.Status = HealthUnhealthy // as docker records a stopped container
	}
	m.saveLocked(persistNow)
	m.mu.Unlock()
	// A stop is answered from here: the container has stopped. The
	// teardown below (and the synced state) follow before this monitor
	// restarts the container or exits, which callers that need it wait for.
	close(rs.recorded)
	// The monitor runs on one P: let a stop waiting for this answer write
	// it before the teardown's netlink and table work takes the P (a
	// down's stop chain waits for each answer in turn).
	goruntime.Gosched()
	if rs.attached {
		if err := m.net.Detach(context.WithoutCancel(ctx), m.id); err != nil {
			m.log.Warn("detach networks", "err", err)
		}
	}
	if err := rs.cg.Remove(ctx); err != nil {
		m.log.Warn("remove cgroup", "err", err)
	}
	m.mu.Lock()
	m.saveLocked(persist)
	m.mu.Unlock()
	if oom {
		m.event("oom", nil)
	}
	m.event("die", map[string]string{"exitCode": strconv.Itoa(code)})
	return code
}

// finish ends the monitor's work: the final state is written, waiters are
// released, and with AutoRemove the container is removed.
func (m *monitor) finish(ctx context.Context) {
	m.mu.Lock()
	stopping := m.st.Stopping
	m.mu.Unlock()
	if stopping {
		m.event("stop", nil)
	}
	if m.cfg.AutoRemove {
		// Waiters (wait, stop) get their answer first: removal takes the
		// state away.
		close(m.done)
		m.waitReplies()
		if err := RemoveFiles(ctx, m.paths, m.id, m.cfg.Name); err != nil {
			m.log.Warn("auto remove", "err", err)
		}
		m.event("destroy", nil)
		return
	}
	close(m.done)
	m.waitReplies()
}

// kill sends SIGKILL to the run's init and, when the container shares the
// host's PID namespace, to everything in its cgroup.
func (m *monitor) kill(ctx context.Context, rs *runState) {
	_ = rs.proc.Signal(unix.SIGKILL)
	if !m.cfg.Init.Namespaces.NewPID || rs.paused {
		_ = rs.cg.Kill(ctx)
	}
}

// resolveJoins points the namespaces to join (network_mode, ipc or pid
// container:X) at X's current init.
func (m *monitor) resolveJoins(ns *runtime.Namespaces) error {
	for _, j := range []struct {
		id   string
		kind string
		dst  *string
	}{{m.cfg.JoinNet, "net", &ns.JoinNet}, {m.cfg.JoinIPC, "ipc", &ns.JoinIPC}, {m.cfg.JoinPID, "pid", &ns.JoinPID}} {
		if j.id == "" {
			continue
		}
		var st State
		err := state.ReadJSON(filepath.Join(m.paths.ContainerRun(j.id), StateFile), &st)
		if err != nil || st.Status != StatusRunning && st.Status != StatusPaused || !ProcessAlive(st.Pid, st.PidStart) {
			return fmt.Errorf("container %s joins the %s namespace of container %.12s, which is not running; start it first: %w", m.cfg.Name, j.kind, j.id, errdefs.ErrFailedPrecondition)
		}
		*j.dst = "/proc/" + strconv.Itoa(st.Pid) + "/ns/" + j.kind
	}
	return nil
}
