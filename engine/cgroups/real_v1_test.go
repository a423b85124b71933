package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/devrule"
	"github.com/berthdev/berth/engine/testutil"
)

// realV1 is realManager on this host's v1 (or hybrid) hierarchies; it skips
// on a unified host.
func realV1(t *testing.T) (*Manager, string) {
	t.Helper()
	m, project := realManager(t, Options{})
	if m.Mode().Unified() {
		t.Skip("this host is cgroup v2; the v1 tests need v1 or hybrid")
	}
	return m, project
}

// TestRealRootV1Limits creates a cgroup with every limit on this host's v1
// hierarchies, reads them back from the kernel, places a real process, reads
// stats, kills and removes it.
func TestRealRootV1Limits(t *testing.T) {
	m, project := realV1(t)
	ctx := context.Background()
	if m.Mode() != ModeHybrid && exists("/sys/fs/cgroup/unified/cgroup.procs") {
		t.Errorf("Mode = %s on a host with a cgroup2 at /sys/fs/cgroup/unified, want hybrid", m.Mode())
	}
	const mib = 1 << 20
	l := Limits{
		Memory: 64 * mib, MemorySwap: 64 * mib, MemoryReservation: 32 * mib,
		NanoCPUs: 500_000_000, CPUShares: 512,
		CpusetCpus: "0", CpusetMems: "0",
		PidsLimit: 20,
	}
	cg, err := m.Create(ctx, project, "c1", l)
	if err != nil {
		t.Fatal(err)
	}
	p := cg.Paths()
	for _, w := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"memory", "memory.memsw.limit_in_bytes", "67108864"},
		{"memory", "memory.soft_limit_in_bytes", "33554432"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.shares", "512"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
		{"pids", "pids.max", "20"},
	} {
		if p[w.ctrl] == "" {
			t.Errorf("no %s hierarchy in Paths()", w.ctrl)
			continue
		}
		if got := readCg(t, p[w.ctrl], w.file); got != w.want {
			t.Errorf("%s = %q, want %q", w.file, got, w.want)
		}
	}
	var wantDev []string
	for _, r := range devrule.Defaults() {
		wantDev = append(wantDev, r.String())
	}
	gotDev := strings.Split(readCg(t, p["devices"], "devices.list"), "\n")
	slices.Sort(wantDev)
	slices.Sort(gotDev)
	if !slices.Equal(gotDev, wantDev) {
		t.Errorf("devices.list = %q\nwant %q", gotDev, wantDev)
	}

	l.PidsLimit, l.CPUShares = 30, 2048
	if err := cg.Update(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got := readCg(t, p["pids"], "pids.max") + " " + readCg(t, p["cpu"], "cpu.shares"); got != "30 2048" {
		t.Errorf("after Update pids.max, cpu.shares = %s, want 30 2048", got)
	}

	sleep := exec.Command("sleep", "100")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	pid := sleep.Process.Pid
	if err := cg.Apply(pid); err != nil {
		t.Fatal(err)
	}
	in := procCgroups(t, pid)
	want := "/" + cg.Path()
	for _, h := range m.hier {
		key := strings.Join(h.Subsystems, ",")
		if got, ok := in[key]; !ok || got != want {
			t.Errorf("/proc/%d/cgroup %s: %q, want %q", pid, key, got, want)
		}
	}
	if m.Mode() == ModeHybrid && in[""] != want {
		t.Errorf("/proc/%d/cgroup unified: %q, want %q", pid, in[""], want)
	}
	if pids, err := cg.Pids(); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids = %v, %v; want [%d]", pids, err, pid)
	}
	st, err := cg.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.PidsCurrent != 1 || st.PidsLimit != 30 || st.MemoryLimit != 64*mib || st.OOMKills != 0 {
		t.Errorf("Stats = %+v; want 1 pid of 30, memory limit 64 MiB, no OOM kill", st)
	}
	if cg.OOMKilled() {
		t.Error("OOMKilled on a sleeping process")
	}

	// Another process opens the same cgroup by name.
	other, err := m.Load(project, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	err = sleep.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("sleep ended with %v, want SIGKILL", err)
	}
	if err := other.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.dirs(cg.Path()) {
		if exists(d) {
			t.Errorf("%s still exists after Remove", d)
		}
	}
}

// TestRealRootV1Devices: the device rules are enforced by the kernel: a
// process in the cgroup cannot open /dev/kmsg (not in the default list)
// unless a rule allows it, while /dev/null works.
func TestRealRootV1Devices(t *testing.T) {
	m, project := realV1(t)
	testDevicesEnforced(t, m, project)
}

// testDevicesEnforced is shared by the v1 and v2 device tests.
func testDevicesEnforced(t *testing.T, m *Manager, project string) {
	ctx := context.Background()
	// "true <dev" only opens the device (the device cgroup acts on open);
	// unlike ":", a failed redirection of "true" does not end dash.
	const script = "true </dev/null && echo null-ok; true </dev/kmsg && echo kmsg-ok; true"
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil || !strings.Contains(string(out), "kmsg-ok") {
		t.Skipf("this host does not let root read /dev/kmsg (%v: %s); nothing to compare with", err, out)
	}
	kmsg := devrule.Rule{Allow: true, Type: 'c', Major: 1, Minor: 11, Access: "r"} // /dev/kmsg's number is fixed
	for _, tc := range []struct {
		id       string
		limits   Limits
		kmsgOpen bool
	}{
		{"default", Limits{}, false},
		{"kmsg-allowed", Limits{Devices: append(devrule.Defaults(), kmsg)}, true},
		// A record of an earlier version: its list began with a deny-all.
		{"old-record", Limits{Devices: append([]devrule.Rule{devrule.DenyAll}, devrule.Defaults()...)}, false},
		{"privileged", Limits{AllowAllDevices: true, Devices: []devrule.Rule{devrule.AllowAll}}, true},
	} {
		t.Run(tc.id, func(t *testing.T) {
			cg, err := m.Create(ctx, project, tc.id, tc.limits)
			if err != nil {
				t.Fatal(err)
			}
			p := run(t, cg, script)
			out := p.out.String()
			if !strings.Contains(out, "null-ok") {
				t.Errorf("/dev/null not usable in the cgroup: %s", out)
			}
			if got := strings.Contains(out, "kmsg-ok"); got != tc.kmsgOpen {
				t.Errorf("/dev/kmsg readable = %v, want %v; output: %s", got, tc.kmsgOpen, out)
			}
			if !tc.kmsgOpen && !strings.Contains(out, "not permitted") {
				t.Errorf("want EPERM opening /dev/kmsg, got: %s", out)
			}
			if err := cg.Remove(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// run runs script in cg (placed before it starts) to completion.
func run(t *testing.T, cg *Cgroup, script string) *placed {
	t.Helper()
	var p *placed
	if cg.m.mode.Unified() {
		p = startInto(t, cg, exec.Command("sh", "-c", script))
	} else {
		p = startPlaced(t, cg, script)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("%s: %v: %s", script, err, p.out.String())
	}
	return p
}

// TestRealRootV1PidsLimit: a shell forking 30 sleeps in a cgroup with
// pids_limit 8 is refused the 8th fork; the kernel counts the refusal.
func TestRealRootV1PidsLimit(t *testing.T) {
	m, project := realV1(t)
	ctx := context.Background()
	cg, err := m.Create(ctx, project, "forker", Limits{PidsLimit: 8})
	if err != nil {
		t.Fatal(err)
	}
	p := startPlaced(t, cg, "i=0; while [ $i -lt 30 ]; do sleep 60 >/dev/null 2>&1 & i=$((i+1)); done; echo all-forked")
	err = p.cmd.Wait() // dash gives up at the first failed fork
	out := p.out.String()
	if err == nil || strings.Contains(out, "all-forked") {
		t.Fatalf("the shell forked 30 sleeps despite pids_limit 8 (err %v): %s", err, out)
	}
	if !strings.Contains(strings.ToLower(out), "fork") {
		t.Errorf("shell output does not mention the failed fork: %s", out)
	}
	// sh plus 7 sleeps made 8 tasks; sh has exited, the sleeps remain.
	pids, err := cg.Pids()
	if err != nil || len(pids) != 7 {
		t.Errorf("Pids = %v, %v; want the 7 sleeps", pids, err)
	}
	if ev := readCg(t, cg.Paths()["pids"], "pids.events"); ev == "max 0" {
		t.Errorf("pids.events = %q: the kernel did not count a refused fork", ev)
	}
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cg.Remove(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRealRootV1OOMKill: a process allocating past mem_limit is killed by
// the kernel, and OOMKilled says so (docker: OOMKilled true, exit 137).
func TestRealRootV1OOMKill(t *testing.T) {
	m, project := realV1(t)
	testOOMKill(t, m, project)
}

func testOOMKill(t *testing.T, m *Manager, project string) {
	ctx := context.Background()
	cg, err := m.Create(ctx, project, "hog", Limits{Memory: 32 << 20, MemorySwap: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=hog")
	p := startPlacedCmd(t, cg, cmd)
	err = p.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hog ended with %v (%s), want SIGKILL from the OOM killer", err, p.out.String())
	}
	if !cg.OOMKilled() {
		t.Error("OOMKilled = false after the kernel killed the hog")
	}
	st, err := cg.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.OOMKills == 0 || st.MemoryLimit != 32<<20 {
		t.Errorf("Stats = %+v; want OOM kills and the 32 MiB limit", st)
	}
	if err := cg.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if !cg.OOMKilled() {
		t.Error("OOMKilled forgot the kill after Remove")
	}
}

// TestRealRootV1FreezeKill: Freeze stops a process (it makes no progress
// while frozen), Thaw resumes it, and Kill works on a frozen cgroup too.
func TestRealRootV1FreezeKill(t *testing.T) {
	m, project := realV1(t)
	ctx := context.Background()
	cg, err := m.Create(ctx, project, "busy", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p := startPlaced(t, cg, "sleep 100 & sleep 100 & while :; do :; done")
	waitFor(t, func() bool { pids, _ := cg.Pids(); return len(pids) == 3 }, "3 processes in the cgroup")
	if err := cg.Freeze(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := cg.Frozen(); err != nil || !f {
		t.Fatalf("Frozen = %v, %v after Freeze", f, err)
	}
	shell := p.cmd.Process.Pid
	before := cpuTicks(t, shell)
	time.Sleep(100 * time.Millisecond)
	if after := cpuTicks(t, shell); after != before {
		t.Errorf("frozen busy loop used CPU: %d -> %d ticks", before, after)
	}
	if err := cg.Thaw(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return cpuTicks(t, shell) > before }, "the thawed loop to run")
	if err := cg.Freeze(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err == nil {
		t.Fatal("shell survived Kill")
	}
	if err := cg.Remove(ctx); err != nil {
		t.Fatal(err)
	}
}

// cpuTicks is utime+stime of pid from /proc/pid/stat.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var u, s int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &s)
	return u + s
}

// waitFor polls cond (10 s at most) for a state the kernel gives no event for.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestRealRootV1Sweep: Sweep kills and removes the cgroup of a container
// that is not live, and leaves the live one.
func TestRealRootV1Sweep(t *testing.T) {
	m, project := realV1(t)
	ctx := context.Background()
	dead, err := m.Create(ctx, project, "dead", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	live, err := m.Create(ctx, project, "live", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p := startPlaced(t, dead, "sleep 100")
	// Other projects under the shared parent belong to other tests: live.
	if err := m.Sweep(ctx, func(id string) bool { return id != "dead" }); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err == nil {
		t.Error("the dead container's process survived the sweep")
	}
	for _, d := range m.dirs(dead.Path()) {
		if exists(d) {
			t.Errorf("%s survived the sweep", d)
		}
	}
	for _, d := range m.dirs(live.Path()) {
		if !exists(d) {
			t.Errorf("live cgroup %s was swept", d)
		}
	}
	if err := live.Remove(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRealRootV1ConcurrentCreateRemove: containers of one project created
// and removed at once; removing the project's last container while another
// is being created must not fail either.
func TestRealRootV1ConcurrentCreateRemove(t *testing.T) {
	m, project := realV1(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Go(func() {
			for i := range 6 {
				cg, err := m.Create(ctx, project, fmt.Sprintf("w%d-%d", w, i), Limits{PidsLimit: 10})
				if err != nil {
					errs <- err
					return
				}
				if err := cg.Remove(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRealRootPlaceMonitor: a monitor process moves into the parent's
// _monitors leaf in every hierarchy.
func TestRealRootPlaceMonitor(t *testing.T) {
	testutil.RequiresRoot(t)
	project := uniqueProject()
	// A parent of its own, so the test removes exactly what it made.
	m, err := New(Options{Parent: "berth/" + project})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sleep := exec.Command("sleep", "100")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	if err := m.PlaceMonitor(ctx, sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	want := "/berth/" + project + "/_monitors"
	for k, v := range procCgroups(t, sleep.Process.Pid) {
		if k == "" && m.unified == "" {
			continue
		}
		if v != want {
			t.Errorf("monitor cgroup %q = %q, want %q", k, v, want)
		}
	}
	_ = sleep.Process.Kill()
	_ = sleep.Wait()
	for _, b := range m.bases() {
		for _, d := range []string{filepath.Join(b, m.parent, monitorsName), filepath.Join(b, m.parent)} {
			if err := m.removeTree(ctx, d); err != nil {
				t.Error(err)
			}
		}
	}
	for _, b := range m.bases() {
		if exists(filepath.Join(b, m.parent)) {
			t.Errorf("leftover %s", filepath.Join(b, m.parent))
		}
	}
}
