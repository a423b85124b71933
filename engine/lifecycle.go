package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/state"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Start starts the container's monitor, which starts the container, and
// returns once the user's process runs (or with the start error: a
// *monitor.StartError whose kind is ErrNotFound for a missing executable).
// Starting a running container does nothing.
func (e *Engine) Start(ctx context.Context, id string) error {
	rec, err := e.resolveHead(id) // the monitor reads the rest
	if err != nil {
		return err
	}
	// A monitor that is finishing (the container stopped for good) is
	// waited for: a new one takes over once it is gone.
	lk, o, err := e.lockSettled(ctx, rec.ID)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if o.monitorAlive || o.orphan {
		return nil // running (or about to restart) already
	}
	if err := monitor.Spawn(ctx, monitor.SpawnOptions{Paths: e.paths, ID: rec.ID, Name: rec.Name, Self: e.self}); err != nil {
		return fmt.Errorf("container %s: %w", rec.Name, err)
	}
	return nil
}

// Stop stops the container: its stop signal (or opts.Signal), then SIGKILL
// after the grace period — at once when the signal cannot arrive (PID 1 of
// its namespace with no handler for it), which StopResult reports. It
// returns once the container has stopped for good (no restart follows).
// Stopping a stopped container does nothing.
func (e *Engine) Stop(ctx context.Context, id string, opts StopOptions) (StopResult, error) {
	// The head only: a monitor that is alive does the stop (down's stop
	// chain waits for each of these in turn).
	rec, err := e.resolveHead(id)
	if err != nil {
		return StopResult{}, err
	}
	req := monitor.Request{Op: "stop", Signal: opts.Signal}
	if opts.Timeout != nil {
		ms := opts.Timeout.Milliseconds()
		if *opts.Timeout < 0 {
			ms = -1
		}
		req.TimeoutMs = &ms
	}
	if e.monitorAlive(rec.ID) {
		resp, err := monitor.NewClient(e.paths, rec.ID).Do(ctx, req)
		if err == nil {
			// The monitor answers once the final state is written; it
			// exits right after.
			if opts.NoWaitCleanup {
				return StopResult{Killed: resp.Killed, Reason: resp.Reason, ExitCode: resp.ExitCode}, nil
			}
			if err := e.waitMonitorGone(ctx, rec.ID); err != nil {
				return StopResult{}, err
			}
			return StopResult{Killed: resp.Killed, Reason: resp.Reason, ExitCode: resp.ExitCode}, nil
		}
		if !errors.Is(err, monitor.ErrNoMonitor) {
			return StopResult{}, fmt.Errorf("container %s: stop: %w", rec.Name, err)
		}
		// The monitor ended meanwhile: look again.
		if err := e.waitMonitorGone(ctx, rec.ID); err != nil {
			return StopResult{}, err
		}
	}
	o := e.observe(rec.ID)
	if !o.orphan {
		return StopResult{ExitCode: o.st.ExitCode}, nil
	}
	full, err := e.load(rec.ID)
	if err != nil {
		return StopResult{}, err
	}
	return e.stopOrphan(ctx, full, o, req)
}

// Kill sends signal (default SIGKILL) to the container's process. As with
// docker, the restart policy does not bring a killed container back.
func (e *Engine) Kill(ctx context.Context, id, signal string) error {
	rec, err := e.resolve(id)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	sig, err := monitor.ParseSignal(signal)
	if err != nil {
		return err
	}
	if e.monitorAlive(rec.ID) {
		_, err := monitor.NewClient(e.paths, rec.ID).Do(ctx, monitor.Request{Op: "kill", Signal: signal})
		if err == nil || !errors.Is(err, monitor.ErrNoMonitor) {
			return err
		}
	}
	o := e.observe(rec.ID)
	if !o.orphan {
		return fmt.Errorf("container %s is not running: %w", rec.Name, errdefs.ErrConflict)
	}
	if err := unix.Kill(o.st.Pid, sig); err != nil && err != unix.ESRCH {
		return fmt.Errorf("container %s: kill: %w", rec.Name, err)
	}
	e.event(e.container(&rec.recordHead, o), "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	return nil
}

// Pause freezes the container's processes (cgroup freezer).
func (e *Engine) Pause(ctx context.Context, id string) error { return e.pause(ctx, id, "pause") }

// Unpause thaws them.
func (e *Engine) Unpause(ctx context.Context, id string) error { return e.pause(ctx, id, "unpause") }

func (e *Engine) pause(ctx context.Context, id, op string) error {
	rec, err := e.resolve(id)
	if err != nil {
		return err
	}
	if !e.monitorAlive(rec.ID) {
		if e.observe(rec.ID).orphan {
			return fmt.Errorf("container %s runs without its monitor: stop it and start it again to %s it: %w", rec.Name, op, errdefs.ErrFailedPrecondition)
		}
		return fmt.Errorf("container %s is not running: %w", rec.Name, errdefs.ErrConflict)
	}
	_, err = monitor.NewClient(e.paths, rec.ID).Do(ctx, monitor.Request{Op: op})
	if err != nil {
		return fmt.Errorf("container %s: %s: %w", rec.Name, op, err)
	}
	return nil
}

// Remove deletes a stopped container: its writable layer, state and log.
// A running one is refused with ErrConflict unless opts.Force, which kills
// it first. Removing a container that is gone succeeds.
func (e *Engine) Remove(ctx context.Context, id string, opts RemoveOptions) error {
	rec, err := e.resolve(id)
	if err != nil {
		if errdefs.IsNotFound(err) && isID(id) {
			return nil
		}
		return err
	}
	lk, o, err := e.lockSettled(ctx, rec.ID)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if o.monitorAlive || o.orphan {
		if !opts.Force {
			return fmt.Errorf("container %s is %s: stop it first or force the removal: %w", rec.Name, o.st.Status, errdefs.ErrConflict)
		}
		zero := int64(0)
		req := monitor.Request{Op: "stop", Signal: "SIGKILL", TimeoutMs: &zero}
		if o.monitorAlive {
			if _, err := monitor.NewClient(e.paths, rec.ID).Do(ctx, req); err != nil && !errors.Is(err, monitor.ErrNoMonitor) {
				return fmt.Errorf("container %s: kill before removal: %w", rec.Name, err)
			}
		} else if _, err := e.stopOrphan(ctx, rec, o, req); err != nil {
			return err
		}
	}
	if err := e.waitMonitorGone(ctx, rec.ID); err != nil {
		return err
	}
	return e.removeStopped(ctx, rec)
}

// removeStopped deletes a container that has no process and no monitor.
func (e *Engine) removeStopped(ctx context.Context, rec *record) error {
	ctx = context.WithoutCancel(ctx)
	if cg, err := e.cg.Load(rec.Monitor.Cgroup.Project, rec.ID); err == nil {
		// Left by a monitor that was killed.
		_ = cg.Kill(ctx)
		if err := cg.Remove(ctx); err != nil {
			return fmt.Errorf("container %s: %w", rec.Name, err)
		}
	}
	if e.snaps != nil {
		if err := e.snaps.Cleanup(ctx, e.paths.Container(rec.ID)); err != nil {
			return fmt.Errorf("container %s: remove writable layer: %w", rec.Name, err)
		}
	}
	if err := monitor.RemoveFiles(ctx, e.paths, rec.ID, rec.Name); err != nil {
		return fmt.Errorf("container %s: %w", rec.Name, err)
	}
	e.event(e.container(&rec.recordHead, observed{st: monitor.State{Status: monitor.StatusExited}}), "destroy", nil)
	if e.cg != nil {
		// The last container gone: no `berth` cgroup left behind.
		e.cg.RemoveParentIfUnused()
	}
	return nil
}

// stopOrphan stops a container whose monitor died: the engine signals and
// reaps it itself (it is not its parent: it waits on a pidfd) and records
// the end. The exit code is unknown then (docker's 137 when killed).
func (e *Engine) stopOrphan(ctx context.Context, rec *record, o observed, req monitor.Request) (StopResult, error) {
	name := req.Signal
	if name == "" {
		name = rec.Monitor.StopSignal
	}
	sig, err := monitor.ParseSignal(name)
	if err != nil {
		return StopResult{}, err
	}
	timeout := 10 * time.Second
	if rec.Monitor.StopTimeout != nil {
		timeout = *rec.Monitor.StopTimeout
	}
	if req.TimeoutMs != nil {
		timeout = time.Duration(*req.TimeoutMs) * time.Millisecond
	}
	pidfd, err := unix.PidfdOpen(o.st.Pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return StopResult{}, e.recordOrphanExit(ctx, rec, o, 255)
		}
		return StopResult{}, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	defer unix.Close(pidfd)
	var res StopResult
	kill := func(reason string) {
		_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		if cg, err := e.cg.Load(rec.Monitor.Cgroup.Project, rec.ID); err == nil {
			_ = cg.Kill(ctx)
		}
		res.Killed, res.Reason = true, reason
	}
	ok, reason, _ := monitor.SignalReachesInit(o.st.Pid, sig)
	switch {
	case rec.Monitor.Init.Namespaces.NewPID && !ok && reason != "":
		kill(reason)
	case timeout == 0:
		kill("stop timeout is 0")
	default:
		_ = unix.PidfdSendSignal(pidfd, sig, nil, 0)
		if !pidfdWait(ctx, pidfd, timeout) {
			kill(fmt.Sprintf("did not exit within %s of %s", timeout, monitor.SignalName(sig)))
		}
	}
	pidfdWait(ctx, pidfd, -1)
	code := 255
	if res.Killed {
		code = 137
	}
	res.ExitCode = code
	return res, e.recordOrphanExit(ctx, rec, o, code)
}

// pidfdWait waits for the process behind pidfd to exit, at most timeout
// (< 0: until ctx is done). It reports whether the process exited.
func pidfdWait(ctx context.Context, pidfd int, timeout time.Duration) bool {
	deadline := time.Time{}
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		ms := 100
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false
			}
			ms = int(min(left, 100*time.Millisecond) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, max(ms, 1))
		if err == nil && n > 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

// recordOrphanExit writes the end of a container whose monitor died and
// cleans what the monitor would have: networks and cgroup.
func (e *Engine) recordOrphanExit(ctx context.Context, rec *record, o observed, code int) error {
	ctx = context.WithoutCancel(ctx)
	if e.net != nil && rec.Monitor.Network.Mode == "bridge" {
		if err := e.net.Detach(ctx, rec.ID); err != nil {
			e.log.Warn("detach networks", "container", rec.Name, "err", err)
		}
	}
	if cg, err := e.cg.Load(rec.Monitor.Cgroup.Project, rec.ID); err == nil {
		if err := cg.Remove(ctx); err != nil {
			e.log.Warn("remove cgroup", "container", rec.Name, "err", err)
		}
	}
	st := o.st
	st.Version = monitor.Version
	st.Status, st.ExitCode, st.Pid, st.PidStart = monitor.StatusExited, code, 0, 0
	st.FinishedAt = time.Now()
	st.Networks, st.Ports, st.Health = nil, nil, nil
	st.BootID = e.boot
	st.Error = "the container's monitor had died; berth stopped it"
	if err := state.WriteJSON(filepath.Join(e.paths.ContainerRun(rec.ID), monitor.StateFile), &st, false); err != nil {
		return err
	}
	if err := state.WriteJSON(filepath.Join(e.paths.Container(rec.ID), monitor.LastStateFile), &st, true); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	e.event(e.container(&rec.recordHead, observed{st: st}), "die", map[string]string{"exitCode": strconv.Itoa(code)})
	return nil
}
