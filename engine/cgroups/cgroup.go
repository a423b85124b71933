package cgroups

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	libcg "github.com/opencontainers/cgroups"
)

// removeWait bounds how long Remove waits for the cgroup's processes to be
// gone before it gives up with ErrFailedPrecondition.
const removeWait = 10 * time.Second

// Cgroup is one container's cgroup. Its methods may be called from any
// process that opened it (Create or Manager.Load); they act on the kernel's
// state, not on anything remembered. Close releases the directory fd FD
// opened; Remove does too.
type Cgroup struct {
	m       *Manager
	project string
	id      string
	rel     string
	paths   map[string]string
	lib     libcg.Manager

	mu      sync.Mutex
	fd      int
	removed bool
	oom     uint64 // OOM kills seen by Remove
}

// Project is the compose project the cgroup belongs to.
func (c *Cgroup) Project() string { return c.project }

// ID is the container id the cgroup belongs to.
func (c *Cgroup) ID() string { return c.id }

// Path is the cgroup's path relative to each hierarchy's root
// ("berth/<project>/<id>"); inside the container's cgroup namespace it is "/".
func (c *Cgroup) Path() string { return c.rel }

// Paths maps each controller to the cgroup's absolute directory, as the
// cgroups library and runc state files do: v1 controller names ("memory",
// "name=systemd", …) and, on hybrid and v2 hosts, "" for the unified
// hierarchy. Placing a process means writing its pid to cgroup.procs in each
// distinct directory (Apply does that).
func (c *Cgroup) Paths() map[string]string { return maps.Clone(c.paths) }

// FD returns a directory fd of the cgroup for clone3 CLONE_INTO_CGROUP (Go:
// SysProcAttr{UseCgroupFD: true, CgroupFD: fd}), so that the child starts
// inside it. It is -1 on v1 and hybrid hosts, where Apply places the child
// instead. The fd is owned by c (close-on-exec) and stays valid until Close
// or Remove.
func (c *Cgroup) FD() (int, error) {
	if !c.m.mode.Unified() {
		return -1, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd >= 0 {
		return c.fd, nil
	}
	if c.removed {
		return -1, fmt.Errorf("cgroup %s was removed: %w", c.rel, errdefs.ErrNotFound)
	}
	fd, err := unix.Open(c.paths[""], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return -1, fmt.Errorf("cgroup %s: %w", c.rel, errdefs.ErrNotFound)
		}
		return -1, fmt.Errorf("cgroup %s: open: %w", c.rel, err)
	}
	c.fd = fd
	return fd, nil
}

// Close releases the fd FD returned. The cgroup itself stays.
func (c *Cgroup) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Apply moves process pid (and, on v1, only that process: call it before
// the process forks) into the cgroup, in every hierarchy. On v2 it is the
// fallback for when CLONE_INTO_CGROUP cannot be used (e.g. exec of a helper).
func (c *Cgroup) Apply(pid int) error {
	for _, d := range c.m.dirs(c.rel) {
		if err := libcg.WriteCgroupProc(d, pid); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("cgroup %s: place pid %d: no such process: %w", c.rel, pid, errdefs.ErrNotFound)
			}
			return fmt.Errorf("cgroup %s: place pid %d: %w", c.rel, pid, err)
		}
	}
	return nil
}

// Pids lists the processes in the cgroup (and any sub-cgroups), sorted. On
// v1 it is the union over the hierarchies, so a process placed in only some
// of them is not missed.
func (c *Cgroup) Pids() ([]int, error) {
	var all []int
	for _, d := range c.m.dirs(c.rel) {
		p, err := libcg.GetAllPids(d)
		if err != nil {
			if isNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("cgroup %s: list processes: %w", c.rel, err)
		}
		all = append(all, p...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// Freeze stops every process in the cgroup (docker pause) and returns once
// they are frozen.
func (c *Cgroup) Freeze(ctx context.Context) error {
	if err := c.lib.Freeze(libcg.Frozen); err != nil {
		return fmt.Errorf("cgroup %s: freeze: %w", c.rel, err)
	}
	return nil
}

// Thaw resumes the processes Freeze stopped (docker unpause).
func (c *Cgroup) Thaw(ctx context.Context) error {
	if err := c.lib.Freeze(libcg.Thawed); err != nil {
		return fmt.Errorf("cgroup %s: thaw: %w", c.rel, err)
	}
	return nil
}

// Frozen reports whether the cgroup is frozen.
func (c *Cgroup) Frozen() (bool, error) {
	s, err := c.lib.GetFreezerState()
	if err != nil {
		return false, fmt.Errorf("cgroup %s: freezer state: %w", c.rel, err)
	}
	return s == libcg.Frozen, nil
}

// Kill sends SIGKILL to every process in the cgroup, including ones forked
// meanwhile, and returns without waiting for them to exit (WaitEmpty or
// Remove wait). On v2 it writes cgroup.kill; on v1 it freezes the cgroup,
// kills each process and thaws it, so nothing escapes by forking.
func (c *Cgroup) Kill(ctx context.Context) error {
	if c.m.mode.Unified() {
		err := libcg.WriteFile(c.paths[""], "cgroup.kill", "1")
		switch {
		case err == nil:
			return nil
		case !isNotExist(err):
			return fmt.Errorf("cgroup %s: kill: %w", c.rel, err)
		case !fileExists(c.paths[""], "cgroup.procs"):
			return nil // the cgroup is gone: nothing to kill
		}
		// A kernel before 5.14 has no cgroup.kill: freeze and kill.
	}
	return c.killFrozen(ctx)
}

func (c *Cgroup) killFrozen(ctx context.Context) error {
	frozeErr := c.lib.Freeze(libcg.Frozen)
	if frozeErr == nil {
		defer func() {
			if err := c.lib.Freeze(libcg.Thawed); err != nil {
				c.m.log.Warn("thaw after kill", "cgroup", c.rel, "err", err)
			}
		}()
	}
	// Frozen, one pass suffices. Without a freezer (none mounted, or the
	// cgroup already partly gone) repeat until no new process shows up.
	for range 100 {
		pids, err := c.Pids()
		if err != nil {
			return fmt.Errorf("cgroup %s: kill: %w", c.rel, err)
		}
		killed := 0
		for _, p := range pids {
			if err := unix.Kill(p, unix.SIGKILL); err == nil {
				killed++
			} else if err != unix.ESRCH {
				return fmt.Errorf("cgroup %s: kill pid %d: %w", c.rel, p, err)
			}
		}
		if frozeErr == nil || killed == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return ctxErr(ctx, "kill cgroup "+c.rel)
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("cgroup %s: processes keep appearing while killing them: %w", c.rel, errdefs.ErrUnavailable)
}

// Stats are a cgroup's resource figures.
type Stats struct {
	// MemoryUsage is the memory charged to the cgroup, page cache included.
	MemoryUsage uint64 `json:"memory_usage"`
	// MemoryMaxUsage is the peak of MemoryUsage (0 where the kernel has none).
	MemoryMaxUsage uint64 `json:"memory_max_usage,omitempty"`
	// MemoryInactiveFile is what docker stats subtracts from MemoryUsage.
	MemoryInactiveFile uint64 `json:"memory_inactive_file,omitempty"`
	// MemoryLimit is the limit in bytes; 0 means unlimited.
	MemoryLimit uint64 `json:"memory_limit,omitempty"`
	// CPUUsage, CPUUser and CPUSystem are CPU time in nanoseconds.
	CPUUsage  uint64 `json:"cpu_usage"`
	CPUUser   uint64 `json:"cpu_user,omitempty"`
	CPUSystem uint64 `json:"cpu_system,omitempty"`
	// CPUThrottledPeriods and CPUThrottledTime (ns) count CFS throttling.
	CPUThrottledPeriods uint64 `json:"cpu_throttled_periods,omitempty"`
	CPUThrottledTime    uint64 `json:"cpu_throttled_time,omitempty"`
	// PidsCurrent is the number of tasks; PidsLimit 0 means unlimited.
	PidsCurrent uint64 `json:"pids_current"`
	PidsLimit   uint64 `json:"pids_limit,omitempty"`
	// OOMKills counts processes the kernel killed for exceeding the limit.
	OOMKills uint64 `json:"oom_kills,omitempty"`
}

// Stats reads the cgroup's memory, CPU and pids figures.
func (c *Cgroup) Stats(ctx context.Context) (*Stats, error) {
	st, err := c.lib.Stats(&libcg.StatsOptions{Controllers: libcg.CPU | libcg.Memory | libcg.Pids})
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("cgroup %s: %w", c.rel, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("cgroup %s: stats: %w", c.rel, err)
	}
	limit := st.MemoryStats.Usage.Limit
	if limit >= math.MaxInt64/2 { // v1's "unlimited" is a page-rounded MaxInt64, v2's MaxUint64
		limit = 0
	}
	inactive := st.MemoryStats.Stats["total_inactive_file"]
	if c.m.mode.Unified() {
		inactive = st.MemoryStats.Stats["inactive_file"]
	}
	out := &Stats{
		MemoryUsage:         st.MemoryStats.Usage.Usage,
		MemoryMaxUsage:      st.MemoryStats.Usage.MaxUsage,
		MemoryInactiveFile:  inactive,
		MemoryLimit:         limit,
		CPUUsage:            st.CpuStats.CpuUsage.TotalUsage,
		CPUUser:             st.CpuStats.CpuUsage.UsageInUsermode,
		CPUSystem:           st.CpuStats.CpuUsage.UsageInKernelmode,
		CPUThrottledPeriods: st.CpuStats.ThrottlingData.ThrottledPeriods,
		CPUThrottledTime:    st.CpuStats.ThrottlingData.ThrottledTime,
		PidsCurrent:         st.PidsStats.Current,
		PidsLimit:           st.PidsStats.Limit,
	}
	out.OOMKills, _ = c.OOMKillCount()
	return out, nil
}

// OOMKillCount is how many processes of the cgroup the kernel OOM-killed
// (memory.oom_control on v1, memory.events on v2). After Remove it is the
// count read just before removal. A cgroup without the memory controller
// counts 0.
func (c *Cgroup) OOMKillCount() (uint64, error) {
	c.mu.Lock()
	if c.removed {
		n := c.oom
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.lib.OOMKillCount()
	if err != nil {
		if isNotExist(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("cgroup %s: OOM kill count: %w", c.rel, err)
	}
	return n, nil
}

// OOMKilled reports whether the kernel OOM-killed a process of the cgroup:
// a container whose process died of SIGKILL with OOMKilled true is reported
// as docker does (State.OOMKilled, exit code 137).
func (c *Cgroup) OOMKilled() bool {
	n, err := c.OOMKillCount()
	return err == nil && n > 0
}

// Update sets new limits on the cgroup (docker update).
func (c *Cgroup) Update(ctx context.Context, l Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("container %s: %w", c.id, err)
	}
	return c.set(l)
}

// Remove waits until the cgroup has no processes (at most 10 s: kill them
// first), deletes it in every hierarchy, and deletes the project's cgroup
// when it was the project's last container. Removing a cgroup that is gone
// is success. It fails with ErrFailedPrecondition, naming the processes,
// when they do not go away.
func (c *Cgroup) Remove(ctx context.Context) error {
	if n, err := c.OOMKillCount(); err == nil {
		c.mu.Lock()
		c.oom = n
		c.mu.Unlock()
	}
	wctx, cancel := context.WithTimeout(ctx, removeWait)
	err := c.WaitEmpty(wctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctxErr(ctx, "remove cgroup "+c.rel)
		}
		pids, _ := c.Pids()
		return fmt.Errorf("cgroup %s still has processes %v after %s; kill the container first: %w", c.rel, pids, removeWait, errdefs.ErrFailedPrecondition)
	}
	_ = c.Close()
	var errs []error
	for _, d := range c.m.dirs(c.rel) {
		if err := c.m.removeTree(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.mu.Lock()
	c.removed = true
	c.mu.Unlock()
	c.m.removeProject(c.project)
	return nil
}

// removeTree removes the cgroup dir and any sub-cgroups a container made,
// retrying while the kernel still reports it busy (exiting tasks).
func (m *Manager) removeTree(ctx context.Context, dir string) error {
	delay := 100 * time.Microsecond
	deadline := time.Now().Add(2 * time.Second)
	for children := true; ; {
		err := m.sys.rmdir(dir)
		if err == nil || isNotExist(err) {
			return nil
		}
		busy := errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY)
		if !busy || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		if children { // sub-cgroups a container made: remove them first, once
			children = false
			for _, sub := range subdirs(dir) {
				if err := m.removeTree(ctx, filepath.Join(dir, sub)); err != nil {
					return err
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctxErr(ctx, "remove cgroup "+dir)
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// removeProject deletes the project's cgroup in every hierarchy where it has
// no container left. A busy or non-empty one belongs to a live container and
// is left alone.
func (m *Manager) removeProject(project string) {
	for _, b := range m.bases() {
		d := filepath.Join(b, m.parent, project)
		err := m.sys.rmdir(d)
		if err != nil && !isNotExist(err) && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
			m.log.Warn("remove project cgroup", "dir", d, "err", err)
		}
	}
}
