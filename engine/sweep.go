package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/state"
)

// sweepGrace is how old a container directory without config.json must be
// before Sweep takes it for the leftover of a killed Create.
const sweepGrace = time.Minute

// Sweep cleans what killed commands and dead monitors left: containers
// whose monitor and process are both gone are recorded as exited (their
// networks detached, their cgroups removed); half-created containers,
// stale name entries and volatile directories of removed containers are
// deleted; leftover cgroups are removed. A container whose monitor died but
// whose process lives is left running (Inspect shows MonitorAlive false):
// stop and remove handle it.
func (e *Engine) Sweep(ctx context.Context) error {
	var errs []error
	ids, err := e.ids()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		known[id] = true
		// The head only (a fresh command would otherwise decode every
		// record's monitor part, and build encoding/json's caches of its
		// types, for the rare container that needs it).
		if _, err := e.loadHead(id); err != nil {
			e.sweepPartial(ctx, id)
			continue
		}
		lk, err := state.TryLock(filepath.Join(e.paths.ContainerRun(id), monitor.OpLockFile))
		if err != nil {
			continue // someone is working on it
		}
		o := e.observe(id)
		if !o.monitorAlive && !o.orphan && o.st.Error != "" && o.st.Status == monitor.StatusExited {
			// Was running with a monitor that died, now gone too: record it.
			var live monitor.State
			if state.ReadJSON(filepath.Join(e.paths.ContainerRun(id), monitor.StateFile), &live) == nil && active(live.Status) {
				rec, err := e.load(id)
				if err == nil {
					err = e.recordOrphanExit(ctx, rec, observed{st: live}, 255)
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
		}
		_ = lk.Unlock()
	}
	// Name entries whose container is gone.
	if ents, err := os.ReadDir(filepath.Join(e.paths.Root, "names")); err == nil {
		for _, de := range ents {
			p := filepath.Join(e.paths.Root, "names", de.Name())
			if b, err := os.ReadFile(p); err == nil && e.nameStale(string(b)) {
				_ = os.Remove(p)
			}
		}
	}
	// Volatile directories of removed containers.
	if ents, err := os.ReadDir(filepath.Join(e.paths.Run, "containers")); err == nil {
		for _, de := range ents {
			id := de.Name()
			if known[id] || e.monitorAlive(id) {
				continue
			}
			if lk, err := state.TryLock(filepath.Join(e.paths.ContainerRun(id), monitor.OpLockFile)); err == nil {
				_ = os.RemoveAll(e.paths.ContainerRun(id))
				_ = lk.Unlock()
			}
		}
	}
	if err := e.cg.Sweep(ctx, func(id string) bool {
		if !known[id] {
			// Every root shares the cgroup parent "berth": an id this
			// root does not know is another root's container (other
			// commands, other engineers' tests), never ours to kill.
			return true
		}
		o := e.observe(id)
		return o.monitorAlive || o.orphan
	}); err != nil {
		errs = append(errs, err)
	}
	if len(ids) == 0 {
		// The last removal's try can come too early (a monitor's exit not
		// yet reaped): the next sweep of an empty root tries again.
		e.cg.RemoveParentIfUnused()
	}
	return errors.Join(errs...)
}

// sweepPartial removes a container directory that has no config.json, is
// not being created (its op lock is free) and is old enough.
func (e *Engine) sweepPartial(ctx context.Context, id string) {
	dir := e.paths.Container(id)
	fi, err := os.Stat(dir)
	if err != nil || time.Since(fi.ModTime()) < sweepGrace {
		return
	}
	lk, err := state.TryLock(filepath.Join(e.paths.ContainerRun(id), monitor.OpLockFile))
	if err != nil {
		return
	}
	defer lk.Unlock()
	if _, err := os.Stat(e.configPath(id)); err == nil {
		return
	}
	if e.snaps != nil {
		_ = e.snaps.Cleanup(ctx, dir)
	}
	_ = os.RemoveAll(dir)
	_ = os.RemoveAll(e.paths.ContainerRun(id))
}
