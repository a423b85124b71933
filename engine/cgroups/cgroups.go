// Package cgroups places berth's containers in control groups, sets their
// resource limits and tears them down, on cgroup v1, hybrid and v2 hosts.
//
// Layout. One parent (Options.Parent, "berth"), one cgroup per compose
// project under it and one per container under that:
//
//	v1, hybrid:  <root>/<hierarchy>/berth/<project>/<id>   in every mounted hierarchy
//	             (hybrid also <root>/unified/berth/<project>/<id>, controller-free)
//	v2:          <root>/berth/<project>/<id>
//
// On v2 the controllers berth needs (cpu, cpuset, io, memory, pids, as far as
// the host has them) are enabled in cgroup.subtree_control of the root, of
// berth and of the project, so only leaves hold processes ("no internal
// processes"). Monitors must therefore never sit in a project or container
// cgroup: they stay where the CLI started them, or PlaceMonitor moves them to
// the leaf berth/_monitors (a name no compose project can take).
//
// What comes from github.com/opencontainers/cgroups (runc's code): writing
// limits (fs.Manager for v1, fs2.Manager for v2), stats, the freezer and the
// device rules (v1 devices.allow/deny, v2 an eBPF program). What berth does
// itself, because the library does not or does it only for /sys/fs/cgroup:
// finding the hierarchies under an arbitrary root, creating the directories
// (cpuset values copied down on v1, subtree_control on v2), the directory fd
// for clone3 CLONE_INTO_CGROUP, cgroup.kill, waiting for "populated 0" in
// cgroup.events with inotify, and removing the project cgroup once its last
// container is gone (never the parent, never another project's).
//
// How the engine uses it (C's runtime and D's monitor):
//
//	cg, err := m.Create(ctx, project, id, limits) // or m.Load(project, id) from another process
//	fd, _ := cg.FD()                              // v2: start the init with CLONE_INTO_CGROUP (fd > 0)
//	// v1/hybrid (fd == -1): cg.Apply(pid) after clone, before the init may fork
//	// exec: CgroupFD = cg.FD() on v2, CgroupPaths = cg.Paths() on v1
//	…
//	oom := cg.OOMKilled()                         // with SIGKILL: docker's OOMKilled, exit 137
//	cg.Kill(ctx); cg.Remove(ctx)                  // Remove waits for the processes to be gone
//
// Invariants: every call works from any process (the monitor and the CLI act
// on the same container's cgroup; Load opens it by name); nothing is cached
// on disk; creation rolls back what it made; Remove and Sweep tolerate what is
// already gone. There is no package-level mutable state.
package cgroups

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthdev/berth/internal/names"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	// Registers the device-rule writers (v1 devices.allow/deny, v2 eBPF)
	// with the cgroups library.
	_ "github.com/opencontainers/cgroups/devices"

	libcg "github.com/opencontainers/cgroups"
)

// Mode is the host's cgroup layout.
type Mode string

// The cgroup modes New can detect.
const (
	// ModeV1 has only v1 hierarchies.
	ModeV1 Mode = "v1"
	// ModeHybrid has v1 hierarchies for every controller and a
	// controller-free cgroup2 at <root>/unified. It is driven as v1; the
	// unified hierarchy is joined as well and tells when a cgroup is empty.
	ModeHybrid Mode = "hybrid"
	// ModeV2 is the unified hierarchy alone.
	ModeV2 Mode = "v2"
)

// Unified reports whether limits live in the unified (v2) hierarchy.
func (m Mode) Unified() bool { return m == ModeV2 }

// DefaultRoot is where cgroup filesystems are mounted.
const DefaultRoot = "/sys/fs/cgroup"

// DefaultParent is the cgroup all of berth's cgroups live under.
const DefaultParent = "berth"

// monitorsName is the leaf under the parent that PlaceMonitor uses; it cannot
// be a project name (those start with a letter or digit).
const monitorsName = "_monitors"

// Options configures a Manager.
type Options struct {
	// Root is where cgroup filesystems are mounted; "" means DefaultRoot.
	// A cgroup2 mount anywhere (e.g. a test's own) works as a v2 root.
	Root string
	// Parent is the cgroup path, relative to each hierarchy's root, that
	// holds berth's project cgroups; "" means DefaultParent. It may have
	// several components ("berth/ci-123").
	Parent string
	// Mode forces a mode instead of detecting it; "" means detect.
	Mode Mode
	// Logger receives diagnostics; nil means discard.
	Logger *slog.Logger
}

// Manager creates and opens berth's cgroups on one host. It is safe for
// concurrent use and holds no state that another process could contradict.
type Manager struct {
	root    string
	parent  string
	mode    Mode
	hier    []hierarchy // v1 and hybrid: the mounted v1 hierarchies, by Dir
	unified string      // v2: root; hybrid: root/unified; v1: ""
	log     *slog.Logger
	sys     sysOps
}

// hierarchy is one mounted v1 hierarchy.
type hierarchy struct {
	Dir        string   // mount point, e.g. /sys/fs/cgroup/memory
	Subsystems []string // e.g. [cpu cpuacct], [name=systemd]
}

// sysOps is the kernel surface the manager touches besides reading and
// writing files; tests substitute a fake cgroupfs that behaves like the
// kernel (files appear on mkdir, rmdir refuses populated cgroups).
type sysOps struct {
	statfs  func(path string) (int64, error)
	mounts  func(root string) ([]hierarchy, error)
	mkdir   func(path string) error
	rmdir   func(path string) error
	devices func(unified bool, dir string, r *libcg.Resources) error
}

func realSys() sysOps {
	return sysOps{
		statfs: func(path string) (int64, error) {
			var st unix.Statfs_t
			if err := unix.Statfs(path, &st); err != nil {
				return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
			}
			return st.Type, nil
		},
		mounts: v1Mounts,
		mkdir:  func(path string) error { return os.Mkdir(path, 0o755) },
		rmdir:  func(path string) error { return unix.Rmdir(path) },
		devices: func(unified bool, dir string, r *libcg.Resources) error {
			if unified {
				return libcg.DevicesSetV2(dir, r)
			}
			return libcg.DevicesSetV1(dir, r)
		},
	}
}

// New detects the host's cgroup mode under opts.Root and returns a manager.
// It fails with ErrUnavailable when no cgroup filesystem is mounted there.
func New(opts Options) (*Manager, error) {
	return newManager(opts, realSys())
}

func newManager(opts Options, sys sysOps) (*Manager, error) {
	root := opts.Root
	if root == "" {
		root = DefaultRoot
	}
	root = filepath.Clean(root)
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("cgroup root %q must be absolute: %w", opts.Root, errdefs.ErrInvalidArgument)
	}
	parent := opts.Parent
	if parent == "" {
		parent = DefaultParent
	}
	if err := validParent(parent); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Manager{root: root, parent: parent, log: log, sys: sys}
	mode := opts.Mode
	if mode == "" {
		var err error
		if mode, err = detect(root, sys.statfs); err != nil {
			return nil, err
		}
	}
	switch mode {
	case ModeV2:
		m.unified = root
	case ModeV1, ModeHybrid:
		hier, err := sys.mounts(root)
		if err != nil {
			return nil, fmt.Errorf("cgroup v1 hierarchies under %s: %w", root, err)
		}
		if len(hier) == 0 {
			return nil, fmt.Errorf("no cgroup v1 hierarchy is mounted under %s: %w", root, errdefs.ErrUnavailable)
		}
		if !slices.ContainsFunc(hier, func(h hierarchy) bool { return slices.Contains(h.Subsystems, "devices") }) {
			// Without it a container could open any device node it can mknod.
			return nil, fmt.Errorf("the devices cgroup is not mounted under %s; berth needs it to confine containers: %w", root, errdefs.ErrUnavailable)
		}
		m.hier = hier
		if mode == ModeHybrid {
			m.unified = filepath.Join(root, "unified")
		}
	default:
		return nil, fmt.Errorf("cgroup mode %q: want v1, hybrid or v2: %w", mode, errdefs.ErrInvalidArgument)
	}
	m.mode = mode
	return m, nil
}

// detect tells the mode from the filesystem types at root and root/unified.
func detect(root string, statfs func(string) (int64, error)) (Mode, error) {
	t, err := statfs(root)
	if err != nil {
		return "", fmt.Errorf("cgroup root %s: %w: %w", root, err, errdefs.ErrUnavailable)
	}
	switch t {
	case unix.CGROUP2_SUPER_MAGIC:
		return ModeV2, nil
	case unix.CGROUP_SUPER_MAGIC:
		return "", fmt.Errorf("cgroup root %s is a single v1 hierarchy; give the directory holding the hierarchies: %w", root, errdefs.ErrInvalidArgument)
	}
	if t, err := statfs(filepath.Join(root, "unified")); err == nil && t == unix.CGROUP2_SUPER_MAGIC {
		return ModeHybrid, nil
	}
	return ModeV1, nil
}

// v1Subsystems are the v1 hierarchies berth creates its cgroups in: the ones
// the cgroups library manages.
var v1Subsystems = []string{
	"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb",
	"memory", "misc", "name=systemd", "net_cls", "net_prio", "perf_event",
	"pids", "rdma",
}

// v1Mounts lists the v1 hierarchies mounted directly under root, from
// /proc/self/mountinfo.
func v1Mounts(root string) ([]hierarchy, error) {
	mi, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []hierarchy
	for _, m := range mi {
		if filepath.Dir(m.Mountpoint) != root || seen[m.Mountpoint] {
			continue
		}
		var subs []string
		for _, o := range strings.Split(m.VFSOptions, ",") {
			if slices.Contains(v1Subsystems, o) {
				subs = append(subs, o)
			}
		}
		if len(subs) > 0 {
			seen[m.Mountpoint] = true
			out = append(out, hierarchy{Dir: m.Mountpoint, Subsystems: subs})
		}
	}
	slices.SortFunc(out, func(a, b hierarchy) int { return strings.Compare(a.Dir, b.Dir) })
	return out, nil
}

// Mode is the detected (or forced) cgroup mode.
func (m *Manager) Mode() Mode { return m.mode }

// Root is the directory the cgroup filesystems are mounted under.
func (m *Manager) Root() string { return m.root }

// Parent is the cgroup path holding berth's projects.
func (m *Manager) Parent() string { return m.parent }

// validName checks a project name or container id: docker's name syntax
// (what compose allows for project names plus upper case and dots), 1 to
// 128 characters, nothing that could climb out of the parent.
func validName(kind, s string) error {
	if !names.Valid(s, 1, 128) {
		return fmt.Errorf("cgroup %s %q: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit: %w", kind, s, errdefs.ErrInvalidArgument)
	}
	return nil
}

func validParent(p string) error {
	if filepath.IsAbs(p) || filepath.Clean(p) != p || p == "." || strings.HasPrefix(p, "..") {
		return fmt.Errorf("cgroup parent %q must be a clean relative path such as \"berth\": %w", p, errdefs.ErrInvalidArgument)
	}
	for _, c := range strings.Split(p, "/") {
		if !names.Valid(c, 1, 128) {
			return fmt.Errorf("cgroup parent %q: component %q: use letters, digits, '_', '.' or '-': %w", p, c, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// rel is a container's cgroup path relative to each hierarchy's root.
func (m *Manager) rel(project, id string) string {
	return filepath.Join(m.parent, project, id)
}

// paths maps each controller ("" for the unified hierarchy) to the absolute
// directory of the cgroup at rel, as the cgroups library expects.
func (m *Manager) paths(rel string) map[string]string {
	p := make(map[string]string, len(v1Subsystems)+1)
	for _, h := range m.hier {
		for _, s := range h.Subsystems {
			p[s] = filepath.Join(h.Dir, rel)
		}
	}
	if m.unified != "" {
		p[""] = filepath.Join(m.unified, rel)
	}
	return p
}

// dirs are the distinct directories of the cgroup at rel, in a fixed order:
// the v1 hierarchies by mount point, then the unified one.
func (m *Manager) dirs(rel string) []string {
	out := make([]string, 0, len(m.hier)+1)
	for _, h := range m.hier {
		out = append(out, filepath.Join(h.Dir, rel))
	}
	if m.unified != "" {
		out = append(out, filepath.Join(m.unified, rel))
	}
	return out
}

// bases are the hierarchy roots: each v1 mount point, then the unified root.
func (m *Manager) bases() []string {
	return m.dirs("")
}

// Load opens the existing cgroup of container id in project, without
// changing it: the way a process other than the creator (the monitor, the
// CLI) acts on a container's cgroup. It fails with ErrNotFound when the
// cgroup does not exist.
func (m *Manager) Load(project, id string) (*Cgroup, error) {
	if err := validName("project", project); err != nil {
		return nil, err
	}
	if err := validName("id", id); err != nil {
		return nil, err
	}
	rel := m.rel(project, id)
	found := false
	for _, d := range m.dirs(rel) {
		if _, err := os.Stat(d); err == nil {
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("cgroup %s of container %s: %w", rel, id, errdefs.ErrNotFound)
	}
	return m.open(project, id)
}

// isNotExist is true for ENOENT, however wrapped.
// isNotExist reports a missing cgroup: ENOENT, or ENODEV, which cgroupfs
// answers for a file of a cgroup being removed at that moment.
func isNotExist(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV)
}

// ctxErr wraps a context error with what was being waited for.
func ctxErr(ctx context.Context, what string) error {
	return fmt.Errorf("%s: %w", what, context.Cause(ctx))
}
