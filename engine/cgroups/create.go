package cgroups

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	libcg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
)

// v2Controllers are the controllers berth enables down to its project
// cgroups on v2, when the host has them.
var v2Controllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

// mkdirAttempts bounds how often Create re-makes a project cgroup that a
// concurrent Remove of the project's last container took away.
const mkdirAttempts = 8

// Create makes the cgroup of container id in project, sets l on it, and
// returns it empty: start the container's init in it with FD (v2, clone3
// CLONE_INTO_CGROUP) or Apply (v1, before the init may fork). It fails with
// ErrAlreadyExists when the cgroup exists, ErrInvalidArgument for bad limits
// or names, and ErrFailedPrecondition when the host lacks a controller a
// limit needs. Nothing is left behind on failure.
func (m *Manager) Create(ctx context.Context, project, id string, l Limits) (_ *Cgroup, err error) {
	if err := validName("project", project); err != nil {
		return nil, err
	}
	if err := validName("id", id); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	rel := m.rel(project, id)
	var made []string
	defer func() {
		if err != nil {
			ctx := context.WithoutCancel(ctx)
			for _, d := range slices.Backward(made) {
				if rerr := m.removeTree(ctx, d); rerr != nil {
					m.log.Warn("cgroup rollback", "dir", d, "err", rerr)
				}
			}
			m.removeProject(project)
		}
	}()
	var ctrls []string
	if m.mode == ModeV2 {
		if ctrls, err = m.v2Available(); err != nil {
			return nil, err
		}
	}
	for _, base := range m.bases() {
		if err := ctx.Err(); err != nil {
			return nil, ctxErr(ctx, "create cgroup "+rel)
		}
		d, err := m.makeLeaf(base, rel, ctrls, true)
		if err != nil {
			return nil, err
		}
		made = append(made, d)
	}
	cg, err := m.open(project, id)
	if err != nil {
		return nil, err
	}
	if err := cg.set(l); err != nil {
		return nil, err
	}
	return cg, nil
}

// open returns the Cgroup value for project/id without touching the disk.
func (m *Manager) open(project, id string) (*Cgroup, error) {
	rel := m.rel(project, id)
	paths := m.paths(rel)
	cfg := &libcg.Cgroup{Resources: &libcg.Resources{}}
	var (
		lib libcg.Manager
		err error
	)
	if m.mode == ModeV2 {
		lib, err = fs2.NewManager(cfg, paths[""])
	} else {
		lib, err = fs.NewManager(cfg, maps.Clone(paths))
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", rel, err)
	}
	return &Cgroup{m: m, project: project, id: id, rel: rel, paths: paths, lib: lib, fd: -1}, nil
}

// makeLeaf makes base/rel and its missing ancestors below base. On v1 the
// cpuset values are copied down (a task cannot join a cpuset cgroup with
// none); on v2 ctrls are enabled in every ancestor's subtree_control. With
// exclusive, an existing leaf is ErrAlreadyExists. A project cgroup removed
// under our feet (the last container of the project going away at the same
// moment) is made again.
func (m *Manager) makeLeaf(base, rel string, ctrls []string, exclusive bool) (string, error) {
	comps := strings.Split(rel, "/")
	leaf := filepath.Join(base, rel)
	cpuset := m.isCpuset(base)
	unified := base == m.unified && m.mode == ModeV2
	var last error
	for range mkdirAttempts {
		last = nil
		dir := base
		for i, c := range comps {
			if unified {
				if err := m.enableControllers(dir, ctrls); err != nil {
					if !isNotExist(err) {
						return "", err
					}
					last = err
					break
				}
			}
			dir = filepath.Join(dir, c)
			err := m.sys.mkdir(dir)
			isLeaf := i == len(comps)-1
			switch {
			case err == nil:
			case errors.Is(err, os.ErrExist):
				if isLeaf && exclusive {
					return "", fmt.Errorf("cgroup %s: %w", dir, errdefs.ErrAlreadyExists)
				}
			case errors.Is(err, os.ErrNotExist):
				last = err // an ancestor vanished: start again from base
			default:
				return "", fmt.Errorf("create cgroup %s: %w", dir, err)
			}
			if last != nil {
				break
			}
			if cpuset {
				if err := copyCpuset(dir); err != nil {
					if isNotExist(err) {
						last = err
						break
					}
					return "", fmt.Errorf("cgroup %s: copy cpuset from parent: %w", dir, err)
				}
			}
		}
		if last == nil {
			return leaf, nil
		}
	}
	return "", fmt.Errorf("create cgroup %s: %w", leaf, last)
}

func (m *Manager) isCpuset(base string) bool {
	for _, h := range m.hier {
		if h.Dir == base {
			return slices.Contains(h.Subsystems, "cpuset")
		}
	}
	return false
}

// copyCpuset gives dir its parent's cpus and mems where it has none.
func copyCpuset(dir string) error {
	parent := filepath.Dir(dir)
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := libcg.ReadFile(dir, f)
		if err != nil {
			return err
		}
		if strings.TrimSpace(cur) != "" {
			continue
		}
		v, err := libcg.ReadFile(parent, f)
		if err != nil {
			return err
		}
		if err := libcg.WriteFile(dir, f, strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	return nil
}

// v2Available are the controllers of v2Controllers the unified root offers.
func (m *Manager) v2Available() ([]string, error) {
	s, err := libcg.ReadFile(m.unified, "cgroup.controllers")
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 root %s: %w", m.unified, err)
	}
	have := strings.Fields(s)
	var out []string
	for _, c := range v2Controllers {
		if slices.Contains(have, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// enableControllers adds the ctrls dir's subtree_control lacks, in one write.
func (m *Manager) enableControllers(dir string, ctrls []string) error {
	if len(ctrls) == 0 {
		return nil
	}
	cur, err := libcg.ReadFile(dir, "cgroup.subtree_control")
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("cgroup %s: %w", dir, err)
	}
	enabled := strings.Fields(cur)
	var add []string
	for _, c := range ctrls {
		if !slices.Contains(enabled, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := libcg.WriteFile(dir, "cgroup.subtree_control", strings.Join(add, " ")); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("cgroup %s holds processes, so controllers cannot be enabled below it (cgroup v2 allows processes only in leaves); move them out: %w: %w", dir, err, errdefs.ErrFailedPrecondition)
		}
		if isNotExist(err) {
			return err // dir went away: the caller starts again
		}
		return fmt.Errorf("cgroup %s: enable %s: %w", dir, strings.Join(add, " "), err)
	}
	return nil
}

// set writes l into the cgroup: the library's settings, then the devices.
func (c *Cgroup) set(l Limits) error {
	unified := c.m.mode.Unified()
	res := l.resources(unified)
	if unified {
		if err := c.checkControllers(l); err != nil {
			return err
		}
		if res.MemorySwap > 0 && res.MemorySwap != res.Memory && !fileExists(c.paths[""], "memory.swap.max") {
			c.m.log.Warn("no swap accounting: memory is limited without swap", "cgroup", c.rel)
			res.MemorySwap = 0
		}
	} else if res.MemorySwap != 0 && !fileExists(c.paths["memory"], "memory.memsw.limit_in_bytes") {
		// docker does the same: it warns and limits memory alone.
		c.m.log.Warn("kernel without swap accounting: memory is limited without swap", "cgroup", c.rel)
		res.MemorySwap = 0
	}
	if err := c.lib.Set(res); err != nil {
		return fmt.Errorf("cgroup %s: set limits: %w", c.rel, err)
	}
	dir := c.paths["devices"]
	if unified {
		dir = c.paths[""]
	}
	if err := c.m.sys.devices(unified, dir, &libcg.Resources{Devices: l.deviceRules()}); err != nil {
		return fmt.Errorf("cgroup %s: set device rules: %w", c.rel, err)
	}
	return nil
}

// checkControllers fails with a clear error when a limit needs a v2
// controller the cgroup does not get.
func (c *Cgroup) checkControllers(l Limits) error {
	need := l.controllersFor()
	if len(need) == 0 {
		return nil
	}
	s, err := libcg.ReadFile(c.paths[""], "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", c.rel, err)
	}
	have := strings.Fields(s)
	for _, n := range need {
		if !slices.Contains(have, n) {
			return fmt.Errorf("cgroup %s: the %s controller is not available (the cgroup has %q), so the %s limits cannot be applied; enable it in the root's cgroup.subtree_control or remove those limits: %w",
				c.rel, n, strings.Join(have, " "), n, errdefs.ErrFailedPrecondition)
		}
	}
	return nil
}

func fileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}
