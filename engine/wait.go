package engine

import (
	"context"
	"errors"
	"os"

	"github.com/berthdev/berth/engine/monitor"
	"golang.org/x/sys/unix"
)

// Wait waits until the container has stopped for good (its restart policy
// done with it) and returns its exit code. A container that is not running
// returns at once. It works for an auto-removed container too: the monitor
// answers before removing it.
func (e *Engine) Wait(ctx context.Context, id string) (int, error) {
	rec, err := e.resolve(id)
	if err != nil {
		return 0, err
	}
	if e.monitorAlive(rec.ID) {
		resp, err := monitor.NewClient(e.paths, rec.ID).Do(ctx, monitor.Request{Op: "wait"})
		if err == nil {
			// The monitor exits right after answering.
			return resp.ExitCode, e.waitMonitorGone(ctx, rec.ID)
		}
		if !errors.Is(err, monitor.ErrNoMonitor) {
			return 0, err
		}
		if err := e.waitMonitorGone(ctx, rec.ID); err != nil {
			return 0, err
		}
	}
	c, err := e.WaitUntil(ctx, rec.ID, func(c *Container) (bool, error) {
		return !c.State.Running && !c.State.Restarting, nil
	})
	if err != nil {
		return 0, err
	}
	return c.State.ExitCode, nil
}

// WaitUntil returns the container once cond holds for it (or cond's
// error). It re-evaluates on every change of the container's state files
// and when its monitor exits, watched with inotify: no polling. A container
// removed meanwhile is ErrNotFound.
func (e *Engine) WaitUntil(ctx context.Context, id string, cond func(*Container) (bool, error)) (*Container, error) {
	rec, err := e.resolve(id)
	if err != nil {
		return nil, err
	}
	run := e.paths.ContainerRun(rec.ID)
	if err := os.MkdirAll(run, 0o700); err != nil {
		return nil, err
	}
	// state.json is replaced by rename (IN_MOVED_TO); a monitor's exit
	// closes monitor.lock, which it had open for writing (IN_CLOSE_WRITE);
	// removal deletes the directories.
	runCh, stopRun, err := e.hub.Watch(run, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_CREATE|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF)
	if err != nil {
		return nil, err
	}
	defer stopRun()
	dirCh, stopDir, err := e.hub.Watch(e.paths.Container(rec.ID), unix.IN_MOVED_TO|unix.IN_DELETE_SELF)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if stopDir != nil {
		defer stopDir()
	}
	// Changes come from the files, and — for a container whose monitor
	// died — from its process exiting, seen through a pidfd.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited := make(chan error, 1)
	watchedPid := 0
	for {
		c, err := e.Inspect(ctx, rec.ID)
		if err != nil {
			return nil, err
		}
		ok, err := cond(c)
		if err != nil || ok {
			return c, err
		}
		if c.State.Running && !c.State.MonitorAlive && c.State.Pid != watchedPid {
			watchedPid = c.State.Pid
			go watchExit(ctx, watchedPid, exited)
		}
		select {
		case <-runCh:
		case <-dirCh:
		case <-exited:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// watchExit reports on changed when process pid exits (or at once when it
// cannot be watched), through a pidfd.
func watchExit(ctx context.Context, pid int, changed chan<- error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err == nil {
		pidfdWait(ctx, fd, -1)
		_ = unix.Close(fd)
	}
	select {
	case changed <- nil:
	case <-ctx.Done():
	}
}
