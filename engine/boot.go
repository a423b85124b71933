package engine

import (
	"context"
	"path/filepath"

	"github.com/berthdev/berth/engine/monitor"
	"github.com/berthdev/berth/engine/state"
)

// BootStarts returns the containers a boot brings back, as docker's daemon
// does when it starts with the machine: those that ran in an earlier boot
// and have restart policy "always", or "unless-stopped" when no user
// stopped (or killed) them before the machine went down. "on-failure" and
// "no" containers stay as they are, as in docker. Containers active or
// stopped in this boot are never returned, so a second call, or one made
// long after the boot, starts nothing a user stopped since.
//
// berth has no daemon: `berth system boot`, run once at boot (by the
// berth-boot.service unit, see examples/systemd), starts what this returns.
func (e *Engine) BootStarts(ctx context.Context) ([]*Container, error) {
	all, err := e.List(ctx, ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, c := range all {
		policy := c.Spec.Restart.Name
		if policy != "always" && policy != "unless-stopped" || c.State.Running || c.State.Restarting {
			continue
		}
		var last monitor.State
		if err := state.ReadJSON(filepath.Join(e.paths.Container(c.ID), monitor.LastStateFile), &last); err != nil {
			continue // never started
		}
		if last.BootID == "" || last.BootID == e.boot || last.StartedAt.IsZero() {
			continue
		}
		if policy == "unless-stopped" && last.Stopping {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}
