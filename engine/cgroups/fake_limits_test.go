package cgroups

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/devrule"
	rt "github.com/berthdev/berth/engine/runtime"
)

var allModes = []Mode{ModeV1, ModeHybrid, ModeV2}

// TestFakeLimitsWritten checks, on fake cgroupfs trees of each mode, which
// files each compose setting ends up in and with what value.
func TestFakeLimitsWritten(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		limits Limits
		v1     map[string]string // "<hierarchy dir>/<file>" -> content
		v2     map[string]string // file -> content
	}{
		{
			name:   "mem_limit alone gets docker's swap of the same size",
			limits: Limits{Memory: 64 * mib},
			v1: map[string]string{
				"memory/memory.limit_in_bytes":       "67108864",
				"memory/memory.memsw.limit_in_bytes": "134217728",
			},
			v2: map[string]string{"memory.max": "67108864", "memory.swap.max": "67108864"},
		},
		{
			name:   "memswap_limit equal to mem_limit disables swap",
			limits: Limits{Memory: 64 * mib, MemorySwap: 64 * mib, MemoryReservation: 32 * mib},
			v1: map[string]string{
				"memory/memory.limit_in_bytes":       "67108864",
				"memory/memory.memsw.limit_in_bytes": "67108864",
				"memory/memory.soft_limit_in_bytes":  "33554432",
			},
			v2: map[string]string{"memory.max": "67108864", "memory.swap.max": "0", "memory.low": "33554432"},
		},
		{
			name:   "memswap_limit -1 is unlimited swap",
			limits: Limits{Memory: 64 * mib, MemorySwap: -1},
			v1: map[string]string{
				"memory/memory.limit_in_bytes":       "67108864",
				"memory/memory.memsw.limit_in_bytes": "-1",
			},
			v2: map[string]string{"memory.max": "67108864", "memory.swap.max": "max"},
		},
		{
			name:   "cpus becomes a quota over a 100ms period",
			limits: Limits{NanoCPUs: 1_500_000_000},
			v1:     map[string]string{"cpu,cpuacct/cpu.cfs_quota_us": "150000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
			v2:     map[string]string{"cpu.max": "150000 100000"},
		},
		{
			name:   "cpu_quota and cpu_period as given",
			limits: Limits{CPUQuota: 20000, CPUPeriod: 50000},
			v1:     map[string]string{"cpu,cpuacct/cpu.cfs_quota_us": "20000", "cpu,cpuacct/cpu.cfs_period_us": "50000"},
			v2:     map[string]string{"cpu.max": "20000 50000"},
		},
		{
			name:   "cpu_shares; v2 weight by the library's conversion",
			limits: Limits{CPUShares: 512},
			v1:     map[string]string{"cpu,cpuacct/cpu.shares": "512"},
			// 10^((l²+125l)/612 − 7/34) with l = log2(512) = 9 → 58.2, rounded up.
			v2: map[string]string{"cpu.weight": "59"},
		},
		{
			name:   "cpuset",
			limits: Limits{CpusetCpus: "1-2", CpusetMems: "0"},
			v1:     map[string]string{"cpuset/cpuset.cpus": "1-2", "cpuset/cpuset.mems": "0"},
			v2:     map[string]string{"cpuset.cpus": "1-2", "cpuset.mems": "0"},
		},
		{
			name:   "cpuset unset is copied from the parent on v1",
			limits: Limits{},
			v1:     map[string]string{"cpuset/cpuset.cpus": "0-3", "cpuset/cpuset.mems": "0"},
			v2:     map[string]string{"cpuset.cpus": "", "pids.max": "max", "memory.max": "max"},
		},
		{
			name:   "pids_limit",
			limits: Limits{PidsLimit: 100},
			v1:     map[string]string{"pids/pids.max": "100"},
			v2:     map[string]string{"pids.max": "100"},
		},
		{
			name:   "pids_limit -1 leaves it unlimited",
			limits: Limits{PidsLimit: -1},
			v1:     map[string]string{"pids/pids.max": "max"},
			v2:     map[string]string{"pids.max": "max"},
		},
	}
	for _, mode := range allModes {
		for _, tc := range tests {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				f := newFake(t, mode)
				m := f.manager("berth")
				cg, err := m.Create(context.Background(), "proj", "c1", tc.limits)
				if err != nil {
					t.Fatal(err)
				}
				if mode == ModeV2 {
					for file, want := range tc.v2 {
						if got := f.read(filepath.Join(f.root, "berth/proj/c1", file)); got != want {
							t.Errorf("%s = %q, want %q", file, got, want)
						}
					}
				} else {
					for file, want := range tc.v1 {
						dir, name := filepath.Split(file)
						if got := f.read(filepath.Join(f.root, dir, "berth/proj/c1", name)); got != want {
							t.Errorf("%s = %q, want %q", file, got, want)
						}
					}
				}
				if err := cg.Remove(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestFakeCpusetCopiedToAncestors: on v1 the project and parent cgroups get
// the root's cpus and mems too, or no task could join below them.
func TestFakeCpusetCopiedToAncestors(t *testing.T) {
	f := newFake(t, ModeV1)
	m := f.manager("berth")
	if _, err := m.Create(context.Background(), "proj", "c1", Limits{CpusetCpus: "1"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"berth", "berth/proj"} {
		if got := f.read(filepath.Join(f.root, "cpuset", d, "cpuset.cpus")); got != "0-3" {
			t.Errorf("%s cpuset.cpus = %q, want 0-3", d, got)
		}
	}
}

// TestFakeV2SubtreeControl: on v2 the controllers are enabled in the root,
// the parent and the project, and not in the container's leaf.
func TestFakeV2SubtreeControl(t *testing.T) {
	f := newFake(t, ModeV2)
	m := f.manager("berth")
	if _, err := m.Create(context.Background(), "proj", "c1", Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "berth", "berth/proj"} {
		got := strings.Fields(strings.ReplaceAll(f.read(filepath.Join(f.root, d, "cgroup.subtree_control")), "+", ""))
		for _, c := range []string{"cpu", "cpuset", "io", "memory", "pids"} {
			if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+c+" ") {
				t.Errorf("%q/cgroup.subtree_control = %q, lacks %s", d, got, c)
			}
		}
		if strings.Contains(strings.Join(got, " "), "hugetlb") {
			t.Errorf("%q/cgroup.subtree_control = %q: berth enables only what it uses", d, got)
		}
	}
	if got := f.read(filepath.Join(f.root, "berth/proj/c1/cgroup.subtree_control")); got != "" {
		t.Errorf("leaf subtree_control = %q, want empty (a leaf holds the processes)", got)
	}
}

// TestFakeV2MissingController: a limit whose controller the host does not
// delegate fails clearly, and nothing is left behind.
func TestFakeV2MissingController(t *testing.T) {
	f := newFake(t, ModeV2)
	f.writeAll(f.root, map[string]string{"cgroup.controllers": "cpu memory\n"})
	m := f.manager("berth")
	_, err := m.Create(context.Background(), "proj", "c1", Limits{PidsLimit: 10})
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "pids controller") {
		t.Fatalf("err = %v, want FailedPrecondition naming the pids controller", err)
	}
	if exists(filepath.Join(f.root, "berth/proj")) {
		t.Error("berth/proj left behind")
	}
}

// TestFakeDeviceRules checks the rule lists handed to the library's device
// writers: deny all, then Limits.Devices as given (docker's defaults when
// empty); or allow all when privileged.
func TestFakeDeviceRules(t *testing.T) {
	defaults := "c *:* m,b *:* m,c 1:3 rwm,c 1:5 rwm,c 1:7 rwm,c 1:8 rwm,c 1:9 rwm,c 5:0 rwm,c 5:1 rwm,c 5:2 rwm,c 136:* rwm,c 10:200 rwm"
	blk := devrule.Rule{Type: 'b', Major: 8, Minor: -1, Access: "r", Allow: true}
	tests := []struct {
		name   string
		limits Limits
		want   string
	}{
		{"empty", Limits{}, "deny a *:* rwm," + defaults},
		{"device_cgroup_rules", Limits{Devices: append(devrule.Defaults(), blk)}, "deny a *:* rwm," + defaults + ",b 8:* r"},
		{"nothing but a rule", Limits{Devices: []devrule.Rule{blk}}, "deny a *:* rwm,b 8:* r"},
		// A record of an earlier version, whose list began with a deny-all.
		{"old record", Limits{Devices: append([]devrule.Rule{devrule.DenyAll}, devrule.Defaults()...)}, "deny a *:* rwm,deny a *:* rwm," + defaults},
		{"privileged", Limits{AllowAllDevices: true, Devices: []devrule.Rule{devrule.AllowAll}}, "a *:* rwm"},
		{"privileged without rules", Limits{AllowAllDevices: true}, "a *:* rwm"},
	}
	for _, mode := range []Mode{ModeV1, ModeV2} {
		for _, tc := range tests {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				if got := strings.Join(fakeDeviceLines(t, mode, tc.limits), ","); got != tc.want {
					t.Errorf("rules:\n got %s\nwant %s", got, tc.want)
				}
			})
		}
	}
}

// TestFakeDefaultContainerDevices follows a default container's rules from
// runtime.BuildConfig to the cgroup, the way engine/create.go hands them
// over: every one of docker's defaults arrives once, after one deny-all,
// and a privileged container gets allow-all alone.
func TestFakeDefaultContainerDevices(t *testing.T) {
	in := rt.SpecInput{ID: "c", RootfsDir: "/r", Args: []string{"sh"}, Hostname: "h"}
	cfg, err := rt.BuildConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Privileged = true
	priv, err := rt.BuildConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{ModeV1, ModeV2} {
		t.Run(string(mode), func(t *testing.T) {
			got := fakeDeviceLines(t, mode, Limits{Devices: cfg.DeviceRules})
			count := map[string]int{}
			for _, l := range got {
				count[l]++
			}
			if len(got) == 0 || got[0] != "deny a *:* rwm" || count["deny a *:* rwm"] != 1 {
				t.Errorf("rules %q: want one deny-all, first", got)
			}
			for _, r := range devrule.Defaults() {
				if n := count[r.String()]; n != 1 {
					t.Errorf("default rule %q reaches the cgroup %d times, want once; rules %q", r, n, got)
				}
			}
			if len(got) != 1+len(devrule.Defaults()) {
				t.Errorf("rules %q: want the deny-all and docker's defaults, nothing else", got)
			}
			if got := fakeDeviceLines(t, mode, Limits{Devices: priv.DeviceRules, AllowAllDevices: true}); !slices.Equal(got, []string{"a *:* rwm"}) {
				t.Errorf("privileged rules %q, want allow-all alone", got)
			}
		})
	}
}

// fakeDeviceLines creates a cgroup with l on a fake tree of mode and returns
// the device rules written for it, as devices.list lines ("deny " before a
// deny rule).
func fakeDeviceLines(t *testing.T, mode Mode, l Limits) []string {
	t.Helper()
	f := newFake(t, mode)
	m := f.manager("berth")
	cg, err := m.Create(context.Background(), "proj", "c1", l)
	if err != nil {
		t.Fatal(err)
	}
	dir := cg.paths["devices"]
	if mode.Unified() {
		dir = cg.paths[""]
	}
	return f.devices[dir]
}

func TestValidate(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		limits Limits
		msg    string // "" means valid
	}{
		{"empty", Limits{}, ""},
		{"typical", Limits{Memory: 512 * mib, MemoryReservation: 256 * mib, NanoCPUs: 1e9, PidsLimit: 100}, ""},
		{"tiny memory", Limits{Memory: 1 * mib}, "minimum is 6MB"},
		{"swap without memory", Limits{MemorySwap: 64 * mib}, "needs mem_limit"},
		{"swap below memory", Limits{Memory: 64 * mib, MemorySwap: 32 * mib}, "must not be less than mem_limit"},
		{"reservation above memory", Limits{Memory: 64 * mib, MemoryReservation: 128 * mib}, "mem_reservation"},
		{"cpus with quota", Limits{NanoCPUs: 1e9, CPUQuota: 50000}, "cannot be combined"},
		{"too few cpus", Limits{NanoCPUs: 1e6}, "minimum is 0.01"},
		{"too many cpus", Limits{NanoCPUs: 100000 * 1e9}, "CPUs available"},
		{"short period", Limits{CPUPeriod: 10}, "cpu_period"},
		{"bad pids", Limits{PidsLimit: -5}, "pids_limit"},
		{"bad device rule", Limits{Devices: []devrule.Rule{{Type: 'x', Access: "r"}}}, "malformed"},
		{"bad device access", Limits{Devices: []devrule.Rule{{Type: 'c', Major: 1, Minor: 3, Access: "rr"}}}, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.limits.Validate()
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want InvalidArgument containing %q", err, tc.msg)
			}
		})
	}
}

func TestDetectMode(t *testing.T) {
	tests := []struct {
		name string
		fs   map[string]int64 // path -> magic; absent means ENOENT
		want Mode
		kind func(error) bool
	}{
		{"unified host", map[string]int64{"/sys/fs/cgroup": unix.CGROUP2_SUPER_MAGIC}, ModeV2, nil},
		{"hybrid host", map[string]int64{"/sys/fs/cgroup": unix.TMPFS_MAGIC, "/sys/fs/cgroup/unified": unix.CGROUP2_SUPER_MAGIC}, ModeHybrid, nil},
		{"v1 host", map[string]int64{"/sys/fs/cgroup": unix.TMPFS_MAGIC}, ModeV1, nil},
		{"v1 host with an ordinary unified dir", map[string]int64{"/sys/fs/cgroup": unix.TMPFS_MAGIC, "/sys/fs/cgroup/unified": unix.TMPFS_MAGIC}, ModeV1, nil},
		{"no cgroups", map[string]int64{}, "", errdefs.IsUnavailable},
		{"root is one v1 hierarchy", map[string]int64{"/sys/fs/cgroup": unix.CGROUP_SUPER_MAGIC}, "", errdefs.IsInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statfs := func(p string) (int64, error) {
				if m, ok := tc.fs[p]; ok {
					return m, nil
				}
				return 0, unix.ENOENT
			}
			got, err := detect("/sys/fs/cgroup", statfs)
			if tc.kind != nil {
				if !tc.kind(err) {
					t.Fatalf("err = %v, want another kind", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("detect = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	f := newFake(t, ModeV1)
	for _, o := range []Options{
		{Root: "relative", Mode: ModeV1},
		{Root: f.root, Parent: "/abs", Mode: ModeV1},
		{Root: f.root, Parent: "../up", Mode: ModeV1},
		{Root: f.root, Parent: "a//b", Mode: ModeV1},
		{Root: f.root, Mode: "v3"},
	} {
		if _, err := newManager(o, f.sys()); !errdefs.IsInvalidArgument(err) {
			t.Errorf("New(%+v) err = %v, want InvalidArgument", o, err)
		}
	}
	noDevices := f.sys()
	noDevices.mounts = func(string) ([]hierarchy, error) {
		return []hierarchy{{Dir: f.root + "/memory", Subsystems: []string{"memory"}}}, nil
	}
	if _, err := newManager(Options{Root: f.root, Mode: ModeV1}, noDevices); !errdefs.IsUnavailable(err) {
		t.Errorf("v1 without devices hierarchy: err = %v, want Unavailable", err)
	}
}

func TestBadNames(t *testing.T) {
	f := newFake(t, ModeV2)
	m := f.manager("berth")
	for _, p := range [][2]string{{"../x", "c"}, {"p", "../c"}, {"_monitors", "c"}, {"p", ""}, {"p", "a/b"}, {strings.Repeat("x", 200), "c"}} {
		if _, err := m.Create(context.Background(), p[0], p[1], Limits{}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Create(%q, %q) err = %v, want InvalidArgument", p[0], p[1], err)
		}
		if _, err := m.Load(p[0], p[1]); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Load(%q, %q) err = %v, want InvalidArgument", p[0], p[1], err)
		}
	}
	if _, err := m.Create(context.Background(), "p", "c", Limits{Memory: 1}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad limits: err = %v, want InvalidArgument", err)
	}
}
