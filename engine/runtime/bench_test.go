package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/mount"
	"github.com/berthdev/berth/engine/testutil"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const benchRuns = 50

// BenchmarkStartTrue measures, for `true` on the busybox rootfs with
// docker's defaults (all namespaces, caps, masked paths, seccomp):
//   - start: from Start to the user's process exec'd (Start returning);
//   - run: from Start to the process reaped, and its CPU time;
//   - overlay: start, with an overlay root filesystem (fresh upper per run);
//   - start-berth, start-berth-static: start, re-executing the berth binary
//     (built with and without cgo) instead of the test binary;
//   - exec: Exec of `true` into a running container, until reaped.
func BenchmarkStartTrue(b *testing.B) {
	testutil.RequiresRoot(b)
	ctx := context.Background()
	cfg := build(b, spec(b, "true"))
	b.Run("start", func(b *testing.B) {
		testutil.Measure(b, benchRuns, func(int) time.Duration {
			t0 := time.Now()
			p, err := Start(ctx, cfg, StartOptions{})
			d := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = p.Wait()
			return d
		})
	})
	b.Run("run", func(b *testing.B) {
		var cpu cpuTimes
		testutil.Measure(b, benchRuns, func(int) time.Duration {
			t0 := time.Now()
			p, err := Start(ctx, cfg, StartOptions{})
			if err != nil {
				b.Fatal(err)
			}
			_, _ = p.Wait()
			d := time.Since(t0)
			cpu.add(p.cmd.ProcessState)
			return d
		})
		cpu.report(b)
	})
	b.Run("overlay", func(b *testing.B) {
		dir := b.TempDir()
		ocfg := cfg
		testutil.Measure(b, benchRuns, func(i int) time.Duration {
			upper, work := filepath.Join(dir, fmt.Sprint(i), "upper"), filepath.Join(dir, fmt.Sprint(i), "work")
			_ = os.MkdirAll(upper, 0o755)
			_ = os.MkdirAll(work, 0o755)
			ocfg.Rootfs = []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
				"lowerdir=" + busyboxRootfs(b), "upperdir=" + upper, "workdir=" + work}}}
			t0 := time.Now()
			p, err := Start(ctx, ocfg, StartOptions{})
			d := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = p.Wait()
			return d
		})
	})
	// The real path: the berth binary re-executed (a bigger binary, whose
	// runtime start costs more), as `task build` makes it and static.
	for _, v := range []struct{ name, cgo string }{{"start-berth", ""}, {"start-berth-static", "0"}} {
		b.Run(v.name, func(b *testing.B) {
			bin := filepath.Join(b.TempDir(), "berth")
			cmd := exec.Command("go", "build", "-o", bin, "../../cmd/berth")
			if v.cgo != "" {
				cmd.Env = append(os.Environ(), "CGO_ENABLED="+v.cgo)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Skipf("build cmd/berth: %v: %s", err, out)
			}
			var cpu cpuTimes
			testutil.Measure(b, benchRuns, func(int) time.Duration {
				t0 := time.Now()
				p, err := Start(ctx, cfg, StartOptions{Self: bin})
				d := time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = p.Wait()
				cpu.add(p.cmd.ProcessState)
				return d
			})
			cpu.report(b)
		})
	}
	b.Run("exec", func(b *testing.B) {
		scfg := build(b, spec(b, "sleep", "60"))
		p, err := Start(ctx, scfg, StartOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = p.Signal(9); _, _ = p.Wait() }()
		ec := ExecConfig{Args: []string{"true"}, Env: scfg.Env, Capabilities: scfg.Capabilities,
			Seccomp: scfg.Seccomp, Rlimits: scfg.Rlimits}
		testutil.Measure(b, benchRuns, func(int) time.Duration {
			t0 := time.Now()
			ep, err := Exec(ctx, p.Pid, ec)
			if err != nil {
				b.Fatal(err)
			}
			if code, err := ep.Wait(); err != nil || code != 0 {
				b.Fatalf("exec true: %d %v", code, err)
			}
			return time.Since(t0)
		})
	})
}

// BenchmarkOCIRuntimes runs `true` to completion with runc and crun on an
// OCI bundle of the same rootfs, with docker's capabilities and seccomp
// profile, to compare with BenchmarkStartTrue/run (berth, Start to reaped).
// Both also create a cgroup per container, which berth's runtime leaves to
// the engine. Skipped when a runtime is not installed (apt-get install runc
// crun).
func BenchmarkOCIRuntimes(b *testing.B) {
	testutil.RequiresRoot(b)
	bundle := ociBundle(b)
	for _, rt := range []string{"runc", "crun"} {
		b.Run(rt, func(b *testing.B) {
			bin, err := exec.LookPath(rt)
			if err != nil {
				b.Skipf("%s is not installed", rt)
			}
			state := b.TempDir()
			measure := func() {
				var cpu cpuTimes
				defer cpu.report(b)
				testutil.Measure(b, benchRuns, func(i int) time.Duration {
					id := fmt.Sprintf("berth-bench-%d-%d", os.Getpid(), i+1)
					cmd := exec.Command(bin, "--root", state, "run", "--bundle", bundle, id)
					t0 := time.Now()
					out, err := cmd.CombinedOutput()
					d := time.Since(t0)
					if err != nil {
						b.Errorf("%s run: %v: %s", rt, err, out)
					}
					cpu.add(cmd.ProcessState)
					return d
				})
			}
			if rt == "runc" {
				measure()
				return
			}
			// crun refuses hybrid hosts whose cgroup2 has a controller
			// ("drop all controllers from cgroupv2"; hugetlb here). Run it
			// from a thread with a private mount namespace without the
			// unified mount; the thread is thrown away afterwards.
			done := make(chan struct{})
			go func() {
				defer close(done)
				goruntime.LockOSThread()
				if unix.Unshare(unix.CLONE_FS|unix.CLONE_NEWNS) != nil ||
					unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, "") != nil {
					b.Error("private mount namespace")
					return
				}
				_ = unix.Unmount("/sys/fs/cgroup/unified", unix.MNT_DETACH)
				measure()
			}()
			<-done
		})
	}
}

// ociBundle writes an OCI bundle for `true` on the busybox fixture with
// docker's default capabilities, masked and read-only paths and seccomp.
func ociBundle(b *testing.B) string {
	dir := b.TempDir()
	cfg := build(b, spec(b, "true"))
	caps := cfg.Capabilities
	sc, err := mobyseccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: caps}}})
	if err != nil {
		b.Fatal(err)
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	s := specs.Spec{
		Version: "1.0.2", // what runc 1.1 and crun 1.8 accept
		Process: &specs.Process{
			Args: []string{"true"}, Env: cfg.Env, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}},
		},
		Root:     &specs.Root{Path: busyboxRootfs(b)},
		Hostname: "ctr",
		Mounts:   mounts,
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			MaskedPaths:   DefaultMaskedPaths,
			ReadonlyPaths: DefaultReadonlyPaths,
			Seccomp:       sc,
		},
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// cpuTimes collects the CPU time (user+system) of runs: the container's
// processes for berth, the runtime and everything it waited for for runc
// and crun. Unlike wall time it hardly depends on the machine's load.
type cpuTimes []time.Duration

func (c *cpuTimes) add(ps *os.ProcessState) {
	if ps != nil {
		*c = append(*c, ps.UserTime()+ps.SystemTime())
	}
}

func (c *cpuTimes) report(b *testing.B) {
	if len(*c) == 0 {
		return
	}
	slices.Sort(*c)
	b.ReportMetric(float64((*c)[len(*c)/2].Microseconds())/1000, "cpu-ms-median")
}
