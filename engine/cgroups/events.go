package cgroups

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	libcg "github.com/opencontainers/cgroups"
)

// WaitEmpty returns once no process is left in the cgroup, or with ctx's
// error. Where there is a unified hierarchy (v2, hybrid) it sleeps on
// inotify until cgroup.events says "populated 0"; on a v1-only host it polls
// the process lists with a short backoff.
func (c *Cgroup) WaitEmpty(ctx context.Context) error {
	if c.m.unified != "" {
		err := waitUnpopulated(ctx, c.paths[""])
		switch {
		case err == nil && c.m.mode.Unified():
			return nil
		case err == nil:
			// hybrid: a process placed in the v1 hierarchies alone is not
			// seen by the unified one. Placement writes every v1 hierarchy,
			// so one tells.
			if pids, err := libcg.GetAllPids(c.m.dirs(c.rel)[0]); err == nil && len(pids) == 0 {
				return nil
			}
		case !isNotExist(err):
			return fmt.Errorf("cgroup %s: %w", c.rel, err)
		}
	}
	return c.pollEmpty(ctx)
}

func (c *Cgroup) pollEmpty(ctx context.Context) error {
	delay := 500 * time.Microsecond
	for {
		pids, err := c.Pids()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctxErr(ctx, fmt.Sprintf("cgroup %s: wait for processes %v to exit", c.rel, pids))
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// waitUnpopulated blocks until dir/cgroup.events reads "populated 0" (or the
// cgroup is gone). The kernel signals every change of that file as an
// inotify IN_MODIFY, so this never polls. It returns an os.ErrNotExist error
// when dir has no cgroup.events to watch.
func waitUnpopulated(ctx context.Context, dir string) error {
	// Most callers come after the processes exited: answer those without
	// an inotify instance, whose close costs the kernel an RCU grace period.
	if populated, err := readPopulated(dir); err != nil || !populated {
		return err
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify_init1: %w", err)
	}
	// Non-blocking, so the runtime poller serves it and a read deadline
	// can interrupt the read when ctx ends.
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	events := filepath.Join(dir, "cgroup.events")
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: events, Err: err}
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 4096)
	for {
		populated, err := readPopulated(dir)
		if err != nil {
			if isNotExist(err) {
				return nil // removed: certainly empty
			}
			return err
		}
		if !populated {
			return nil
		}
		if _, err := f.Read(buf); err != nil {
			if ctx.Err() != nil {
				return ctxErr(ctx, "wait for cgroup "+dir+" to empty")
			}
			return fmt.Errorf("inotify read: %w", err)
		}
	}
}

// readPopulated reads the "populated" key of dir/cgroup.events.
func readPopulated(dir string) (bool, error) {
	s, err := libcg.ReadFile(dir, "cgroup.events")
	if err != nil {
		return false, err
	}
	for line := range strings.Lines(s) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "populated "); ok {
			return v != "0", nil
		}
	}
	return false, fmt.Errorf("%s/cgroup.events has no populated line", dir)
}
