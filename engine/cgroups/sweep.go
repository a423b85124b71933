package cgroups

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/names"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	libcg "github.com/opencontainers/cgroups"
)

// Sweep removes the container cgroups a killed berth command or a dead
// monitor left behind: every berth/<project>/<id>, in any hierarchy, whose id
// live reports false has its processes killed and is removed, and project
// cgroups left without containers are removed. live must answer true for
// containers being created right now (record the container before making its
// cgroup), and for ids it does not know when other berth roots share the
// parent (give each root its own Options.Parent to keep them apart).
func (m *Manager) Sweep(ctx context.Context, live func(id string) bool) error {
	type key struct{ project, id string }
	found := map[key]bool{}
	projects := map[string]bool{}
	for _, b := range m.bases() {
		pdir := filepath.Join(b, m.parent)
		for _, p := range subdirs(pdir) {
			if !names.Valid(p, 1, 128) {
				continue // _monitors and anything not berth's
			}
			projects[p] = true
			for _, id := range subdirs(filepath.Join(pdir, p)) {
				if names.Valid(id, 1, 128) {
					found[key{p, id}] = true
				}
			}
		}
	}
	keys := make([]key, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.id, b.id))
	})
	var errs []error
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return ctxErr(ctx, "sweep cgroups")
		}
		if live(k.id) {
			continue
		}
		cg, err := m.open(k.project, k.id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := cg.Kill(ctx); err != nil {
			m.log.Warn("sweep: kill", "cgroup", cg.rel, "err", err)
		}
		if err := cg.Remove(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("swept leftover cgroup", "cgroup", cg.rel)
	}
	for p := range projects {
		m.removeProject(p)
	}
	return errors.Join(errs...)
}

// subdirs lists the directory names in dir; a missing dir has none.
func subdirs(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// PlaceMonitor moves process pid (a container's monitor) into the leaf
// <parent>/_monitors, made on first use and never removed. Monitors may also
// stay where they were started; they must never be placed in a project or
// container cgroup (on v2 a cgroup with controllers enabled below it may not
// hold processes). Leaving the login session's cgroup also protects the
// monitor from logind's KillUserProcesses and from CI runners that kill a
// job's cgroup.
func (m *Manager) PlaceMonitor(ctx context.Context, pid int) error {
	rel := filepath.Join(m.parent, monitorsName)
	var ctrls []string
	if m.mode == ModeV2 {
		var err error
		if ctrls, err = m.v2Available(); err != nil {
			return err
		}
	}
	for _, b := range m.bases() {
		if err := ctx.Err(); err != nil {
			return ctxErr(ctx, "place monitor")
		}
		d, err := m.makeLeaf(b, rel, ctrls, false)
		if err != nil {
			return err
		}
		err = libcg.WriteCgroupProc(d, pid)
		if err != nil && isNotExist(err) {
			// Removed meanwhile by RemoveParentIfUnused: make it again.
			if d, err = m.makeLeaf(b, rel, ctrls, false); err == nil {
				err = libcg.WriteCgroupProc(d, pid)
			}
		}
		if err != nil {
			return fmt.Errorf("cgroup %s: place monitor pid %d: %w", d, pid, err)
		}
	}
	return nil
}

// RemoveParentIfUnused removes the monitors' leaf and the berth parent in
// every hierarchy when nothing uses them any more (no monitor in the leaf,
// no project under the parent), so that the last `down` leaves no `berth`
// cgroup behind. A cgroup in use makes rmdir fail with EBUSY or ENOTEMPTY,
// which is the answer "still used": it is best effort and never an error.
// A concurrent Create or PlaceMonitor re-makes what it needs.
func (m *Manager) RemoveParentIfUnused() {
	for _, b := range m.bases() {
		mon := filepath.Join(b, m.parent, monitorsName)
		// A monitor that just exited may still be an unreaped zombie in
		// its cgroup (EBUSY) although cgroup.procs lists nobody: give it a
		// few milliseconds. A live monitor is listed: no wait then.
		for try := 0; try < 10; try++ {
			err := m.sys.rmdir(mon)
			if !errors.Is(err, unix.EBUSY) {
				break
			}
			if procs, rerr := os.ReadFile(filepath.Join(mon, "cgroup.procs")); rerr != nil || len(bytes.TrimSpace(procs)) > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = m.sys.rmdir(filepath.Join(b, m.parent))
	}
}
