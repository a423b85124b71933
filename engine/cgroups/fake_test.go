package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	libcg "github.com/opencontainers/cgroups"
)

// fakeFS is a temporary directory laid out like a host's cgroup mounts in one
// mode, acting as the kernel where the manager asks it to (mkdir makes a
// cgroup's interface files, rmdir refuses a cgroup with children or
// processes). Files are written through the cgroups library in its TestMode,
// where writes create and truncate, so a limit shows up as the file's content.
type fakeFS struct {
	t    *testing.T
	root string
	mode Mode
	hier []hierarchy

	mu      sync.Mutex
	devices map[string][]string // dir -> rules written, as devices.list lines
	failDir string              // mkdir of this dir fails with EIO
}

// v1FakeHierarchies is the v1 layout of the fake, with cpu and cpuacct
// co-mounted as systemd hosts do.
var v1FakeHierarchies = []hierarchy{
	{Dir: "blkio", Subsystems: []string{"blkio"}},
	{Dir: "cpu,cpuacct", Subsystems: []string{"cpu", "cpuacct"}},
	{Dir: "cpuset", Subsystems: []string{"cpuset"}},
	{Dir: "devices", Subsystems: []string{"devices"}},
	{Dir: "freezer", Subsystems: []string{"freezer"}},
	{Dir: "memory", Subsystems: []string{"memory"}},
	{Dir: "pids", Subsystems: []string{"pids"}},
	{Dir: "systemd", Subsystems: []string{"name=systemd"}},
}

const fakeV2Controllers = "cpuset cpu io memory hugetlb pids rdma misc"

// useTestMode switches the cgroups library to its fake-cgroupfs mode for the
// test. Tests using it must not run in parallel with real ones.
func useTestMode(t *testing.T) {
	old := libcg.TestMode
	libcg.TestMode = true
	t.Cleanup(func() { libcg.TestMode = old })
}

func newFake(t *testing.T, mode Mode) *fakeFS {
	t.Helper()
	useTestMode(t)
	f := &fakeFS{t: t, root: t.TempDir(), mode: mode, devices: map[string][]string{}}
	write := func(dir, name, val string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(val), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if mode == ModeV2 {
		write(f.root, "cgroup.controllers", fakeV2Controllers+"\n")
		write(f.root, "cgroup.subtree_control", "")
		write(f.root, "cgroup.procs", "")
		return f
	}
	for _, h := range v1FakeHierarchies {
		dir := filepath.Join(f.root, h.Dir)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f.hier = append(f.hier, hierarchy{Dir: dir, Subsystems: h.Subsystems})
		f.populateV1(dir, h.Subsystems)
	}
	write(filepath.Join(f.root, "cpuset"), "cpuset.cpus", "0-3\n")
	write(filepath.Join(f.root, "cpuset"), "cpuset.mems", "0\n")
	write(filepath.Join(f.root, "devices"), "devices.list", "a *:* rwm\n")
	if mode == ModeHybrid {
		u := filepath.Join(f.root, "unified")
		if err := os.Mkdir(u, 0o755); err != nil {
			t.Fatal(err)
		}
		write(u, "cgroup.controllers", "")
		write(u, "cgroup.subtree_control", "")
		write(u, "cgroup.procs", "")
	}
	return f
}

// manager returns a Manager on the fake.
func (f *fakeFS) manager(parent string) *Manager {
	f.t.Helper()
	m, err := newManager(Options{Root: f.root, Parent: parent, Mode: f.mode}, f.sys())
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fakeFS) sys() sysOps {
	return sysOps{
		statfs: func(string) (int64, error) { return 0, errors.New("fake: no statfs") },
		mounts: func(string) ([]hierarchy, error) { return slices.Clone(f.hier), nil },
		mkdir:  f.mkdir,
		rmdir:  f.rmdir,
		devices: func(unified bool, dir string, r *libcg.Resources) error {
			var lines []string
			for _, d := range r.Devices {
				s := d.CgroupString()
				if !d.Allow {
					s = "deny " + s
				}
				lines = append(lines, s)
			}
			f.mu.Lock()
			f.devices[dir] = lines
			f.mu.Unlock()
			return nil
		},
	}
}

// mkdir makes a cgroup with the files the kernel would give it.
func (f *fakeFS) mkdir(dir string) error {
	f.mu.Lock()
	fail := dir == f.failDir
	f.mu.Unlock()
	if fail {
		return &os.PathError{Op: "mkdir", Path: dir, Err: unix.EIO}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if f.mode == ModeV2 || strings.HasPrefix(dir, filepath.Join(f.root, "unified")+"/") {
		f.populateV2(dir)
		return nil
	}
	for _, h := range f.hier {
		if strings.HasPrefix(dir, h.Dir+"/") {
			f.populateV1(dir, h.Subsystems)
		}
	}
	return nil
}

func (f *fakeFS) populateV1(dir string, subs []string) {
	files := map[string]string{"cgroup.procs": "", "tasks": "", "notify_on_release": "0\n"}
	const unlimited = "9223372036854771712\n"
	for _, s := range subs {
		switch s {
		case "memory":
			files["memory.limit_in_bytes"] = unlimited
			files["memory.memsw.limit_in_bytes"] = unlimited
			files["memory.soft_limit_in_bytes"] = unlimited
			files["memory.usage_in_bytes"] = "0\n"
			files["memory.max_usage_in_bytes"] = "0\n"
			files["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"
			files["memory.use_hierarchy"] = "1\n"
		case "cpu":
			files["cpu.shares"] = "1024\n"
			files["cpu.cfs_quota_us"] = "-1\n"
			files["cpu.cfs_period_us"] = "100000\n"
		case "cpuset":
			files["cpuset.cpus"] = "\n"
			files["cpuset.mems"] = "\n"
		case "pids":
			files["pids.max"] = "max\n"
			files["pids.current"] = "0\n"
		case "devices":
			list, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "devices.list"))
			if err != nil {
				list = []byte("a *:* rwm\n")
			}
			files["devices.list"] = string(list)
		case "freezer":
			files["freezer.state"] = "THAWED\n"
		}
	}
	f.writeAll(dir, files)
}

func (f *fakeFS) populateV2(dir string) {
	sub, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))
	ctrls := strings.Fields(strings.ReplaceAll(string(sub), "+", ""))
	files := map[string]string{
		"cgroup.controllers":     strings.Join(ctrls, " ") + "\n",
		"cgroup.subtree_control": "",
		"cgroup.procs":           "",
		"cgroup.events":          "populated 0\nfrozen 0\n",
		"cgroup.freeze":          "0\n",
		"cgroup.type":            "domain\n",
		"cpu.stat":               "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
	}
	for _, c := range ctrls {
		switch c {
		case "memory":
			files["memory.max"] = "max\n"
			files["memory.low"] = "0\n"
			files["memory.swap.max"] = "max\n"
			files["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"
		case "cpu":
			files["cpu.max"] = "max 100000\n"
			files["cpu.weight"] = "100\n"
		case "cpuset":
			files["cpuset.cpus"] = "\n"
			files["cpuset.mems"] = "\n"
		case "pids":
			files["pids.max"] = "max\n"
			files["pids.current"] = "0\n"
		}
	}
	f.writeAll(dir, files)
}

func (f *fakeFS) writeAll(dir string, files map[string]string) {
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

// rmdir removes a cgroup as the kernel would: EBUSY with child cgroups or
// processes, ENOENT when absent.
func (f *fakeFS) rmdir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			return &os.PathError{Op: "rmdir", Path: dir, Err: unix.EBUSY}
		}
	}
	if procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); strings.TrimSpace(string(procs)) != "" {
		return &os.PathError{Op: "rmdir", Path: dir, Err: unix.EBUSY}
	}
	return os.RemoveAll(dir)
}

// read returns the trimmed content of a file of the fake.
func (f *fakeFS) read(path string) string {
	f.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatalf("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(b))
}

// exists reports whether a path of the fake exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
