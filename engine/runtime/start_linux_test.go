package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLinuxCgroupfsDevicesOom(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	in := spec(t, "sh", "-c", `grep cgroup /proc/self/mounts; ls /sys/fs/cgroup; cat /proc/self/oom_score_adj; ls -l /dev/mynull | cut -c1; echo hi > /dev/mynull && echo WROTE`)
	adj := 500
	in.OomScoreAdj = &adj
	in.Devices = []DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull"}}
	out, code := run(t, build(t, in))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	want := []string{"tmpfs /sys/fs/cgroup tmpfs ro", "\n500\n", "\nc\n", "WROTE"}
	if h, _ := cgroupHierarchies(); len(h) > 0 {
		want = append(want, "cgroup /sys/fs/cgroup/"+h[0].dir+" cgroup ro")
	} else {
		want = []string{"cgroup2 /sys/fs/cgroup cgroup2 ro", "\n500\n", "\nc\n", "WROTE"}
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestLinuxBeforeRelease checks the sync point: BeforeRelease sees the pid
// before the init goes on (what it writes is there when the process runs),
// and its error aborts the start without leaving a process.
func TestLinuxBeforeRelease(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	shared := t.TempDir()
	in := spec(t, "cat", "/shared/pid")
	in.Mounts = []Mount{{Type: "bind", Source: shared, Target: "/shared"}}
	cfg := build(t, in)
	r, w, _ := os.Pipe()
	defer r.Close()
	var seen int
	p, err := Start(context.Background(), cfg, StartOptions{Stdout: w, Stderr: w, BeforeRelease: func(pid int) error {
		seen = pid
		return os.WriteFile(filepath.Join(shared, "pid"), []byte(strconv.Itoa(pid)), 0o644)
	}})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if seen != p.Pid || string(buf[:n]) != strconv.Itoa(p.Pid) {
		t.Fatalf("BeforeRelease got %d, process read %q, pid %d", seen, buf[:n], p.Pid)
	}

	var gone int
	_, err = Start(context.Background(), build(t, spec(t, "sleep", "30")), StartOptions{BeforeRelease: func(pid int) error {
		gone = pid
		return errors.New("network attach failed")
	}})
	if err == nil || !strings.Contains(err.Error(), "network attach failed") {
		t.Fatalf("err = %v", err)
	}
	if err := unix.Kill(gone, 0); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("init %d still exists after the failed start: %v", gone, err)
	}

	// A cancelled context stops a start.
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Start(ctx, build(t, spec(t, "sleep", "30")), StartOptions{BeforeRelease: func(int) error { cancel(); return nil }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled start: %v", err)
	}
}

// TestLinuxJoinNamespaces is network_mode/ipc/pid "container:X".
func TestLinuxJoinNamespaces(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	a := started(t, build(t, spec(t, "sleep", "30")))
	in := spec(t, "sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; ps -o comm")
	in.Net = fmt.Sprintf("/proc/%d/ns/net", a.Pid)
	in.IPC = fmt.Sprintf("/proc/%d/ns/ipc", a.Pid)
	in.PID = fmt.Sprintf("/proc/%d/ns/pid", a.Pid)
	out, code := run(t, build(t, in))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, ns := range []string{"net", "ipc"} {
		want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", a.Pid, ns))
		if !strings.Contains(out, want) {
			t.Errorf("%s namespace %s not joined:\n%s", ns, want, out)
		}
	}
	if !strings.Contains(out, "sleep") {
		t.Errorf("the other container's processes are not visible:\n%s", out)
	}
	// The caller's own namespaces are untouched.
	self, _ := os.Readlink("/proc/self/ns/net")
	other, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", a.Pid))
	if self == other {
		t.Fatal("the test process joined the container's network namespace")
	}
}

// testCgroup makes a cgroup of the test's own under hierarchy dir and
// removes it at the end.
func testCgroup(t *testing.T, hierarchy string) string {
	t.Helper()
	dir := filepath.Join(hierarchy, fmt.Sprintf("berth-rt-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup under %s: %v", hierarchy, err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for os.Remove(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // the last process is being reaped
		}
	})
	return dir
}

func cgroupHas(t *testing.T, dir string, pid int) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		if f == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

func TestLinuxCgroupPlacement(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cfg := build(t, spec(t, "sleep", "30"))

	// cgroup2 (the hybrid host's empty unified hierarchy, or the v2 root):
	// the init is cloned into it.
	v2root := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(filepath.Join(v2root, "cgroup.procs")); err != nil {
		v2root = "/sys/fs/cgroup"
	}
	v2 := testCgroup(t, v2root)
	dirf, err := os.Open(v2)
	if err != nil {
		t.Fatal(err)
	}
	defer dirf.Close()
	p, err := Start(context.Background(), cfg, StartOptions{CgroupFD: int(dirf.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Signal(syscall.SIGKILL); _, _ = p.Wait() }()
	if !cgroupHas(t, v2, p.Pid) {
		t.Fatalf("init %d not in %s", p.Pid, v2)
	}

	// exec: in the v2 cgroup with the container's seccomp filter (placed
	// while stopped at exec) and without (CLONE_INTO_CGROUP); in a v1
	// cgroup through its path.
	v1 := ""
	if h, _ := cgroupHierarchies(); len(h) > 0 {
		v1 = testCgroup(t, "/sys/fs/cgroup/pids")
	}
	for _, tc := range []struct {
		name string
		mod  func(*ExecConfig)
		dir  string
	}{
		{"v2 seccomp", func(ec *ExecConfig) { ec.CgroupFD = int(dirf.Fd()) }, v2},
		{"v2 privileged", func(ec *ExecConfig) { ec.CgroupFD, ec.Privileged, ec.Seccomp = int(dirf.Fd()), true, nil }, v2},
		{"v1", func(ec *ExecConfig) { ec.CgroupPaths = map[string]string{"pids": v1} }, v1},
	} {
		if tc.dir == "" {
			continue
		}
		ec := execConfig(cfg, "sleep", "5")
		tc.mod(&ec)
		ep, err := Exec(context.Background(), p.Pid, ec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ok := cgroupHas(t, tc.dir, ep.Pid)
		_ = ep.Signal(syscall.SIGKILL)
		_, _ = ep.Wait()
		if !ok {
			t.Errorf("%s: exec'd process %d not in %s", tc.name, ep.Pid, tc.dir)
		}
	}
}
