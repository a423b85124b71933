package cgroups

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/testutil"
)

// realV2Mount mounts a cgroup2 filesystem on a temporary directory for the
// test (the host's single unified hierarchy, seen from a second place; on a
// v1 host with no controllers in it) and returns a manager on it, found to
// be v2 by detection. It is unmounted at the end.
func realV2Mount(t *testing.T) (*Manager, string) {
	t.Helper()
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("none", dir, "cgroup2", 0, ""); err != nil {
		t.Skipf("cannot mount cgroup2 on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	m, project := realManager(t, Options{Root: dir})
	if m.Mode() != ModeV2 {
		t.Fatalf("detected %s on a cgroup2 mount, want v2", m.Mode())
	}
	return m, project
}

// startInto starts cmd inside cg from its first instruction, with clone3
// CLONE_INTO_CGROUP on the cgroup's directory fd.
func startInto(t *testing.T, cg *Cgroup, cmd *exec.Cmd) *placed {
	t.Helper()
	fd, err := cg.FD()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = cg.Close()
	})
	return &placed{cmd: cmd, out: out}
}

// TestRealRootV2CloneIntoKillEvents runs v2's controller-free machinery on a
// real cgroup2 filesystem: a shell started with CLONE_INTO_CGROUP is in the
// cgroup before it runs anything (its first child reports the cgroup), the
// cgroup reads populated 1, cgroup.kill kills it and its children, and
// WaitEmpty returns on populated 0.
func TestRealRootV2CloneIntoKillEvents(t *testing.T) {
	m, project := realV2Mount(t)
	ctx := context.Background()
	cg, err := m.Create(ctx, project, "c1", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "cat /proc/self/cgroup; sleep 100 & sleep 100 & echo started; wait")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := cg.FD()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	want := "0::/" + cg.Path()
	sc := bufio.NewScanner(stdout)
	var seen bool
	for sc.Scan() {
		if sc.Text() == want {
			seen = true
		}
		if sc.Text() == "started" {
			break
		}
	}
	if !seen {
		t.Fatalf("the shell's first child did not report %q", want)
	}
	if p := procCgroups(t, cmd.Process.Pid)[""]; p != "/"+cg.Path() {
		t.Errorf("shell in %q, want /%s", p, cg.Path())
	}
	if pop, err := readPopulated(cg.Paths()[""]); err != nil || !pop {
		t.Errorf("populated = %v, %v with 3 processes; want true", pop, err)
	}
	if pids, err := cg.Pids(); err != nil || len(pids) != 3 {
		t.Errorf("Pids = %v, %v; want sh and two sleeps", pids, err)
	}
	st, err := cg.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.PidsCurrent != 3 {
		t.Errorf("Stats.PidsCurrent = %d, want 3", st.PidsCurrent)
	}

	// cgroup.freeze needs no controller either.
	if err := cg.Freeze(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := cg.Frozen(); err != nil || !f {
		t.Errorf("Frozen = %v, %v after Freeze", f, err)
	}
	if ev := readCg(t, cg.Paths()[""], "cgroup.events"); !strings.Contains(ev, "frozen 1") {
		t.Errorf("cgroup.events = %q after Freeze", ev)
	}

	done := make(chan error, 1)
	go func() { done <- cg.WaitEmpty(ctx) }()
	// cgroup.kill kills frozen processes as well.
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("shell ended with %v, want SIGKILL from cgroup.kill", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitEmpty did not return after cgroup.kill")
	}
	if pop, err := readPopulated(cg.Paths()[""]); err != nil || pop {
		t.Errorf("populated = %v, %v after WaitEmpty; want false", pop, err)
	}
	if err := cg.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(cg.Paths()[""]) {
		t.Error("cgroup still exists after Remove")
	}
}

// TestRealRootV2WaitEmptyNaturalExit: WaitEmpty sleeps (on inotify) until
// the cgroup's last process exits by itself, then Remove succeeds.
func TestRealRootV2WaitEmptyNaturalExit(t *testing.T) {
	m, project := realV2Mount(t)
	ctx := context.Background()
	cg, err := m.Create(ctx, project, "short", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p := startInto(t, cg, exec.Command("sh", "-c", "sleep 0.3"))
	if pop, err := readPopulated(cg.Paths()[""]); err != nil || !pop {
		t.Fatalf("populated = %v, %v right after start; want true", pop, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cg.WaitEmpty(wctx); err != nil {
		t.Fatal(err)
	}
	if pop, err := readPopulated(cg.Paths()[""]); err != nil || pop {
		t.Errorf("WaitEmpty returned with populated = %v, %v", pop, err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("sleep: %v", err)
	}
	if err := cg.Remove(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRealRootV2Devices: the v2 device rules (an eBPF program attached to
// the cgroup) are enforced for a process started into it.
func TestRealRootV2Devices(t *testing.T) {
	m, project := realV2Mount(t)
	testDevicesEnforced(t, m, project)
}

// TestRealRootV2NoControllers: on this mount only controllers the host
// offers are enabled; a limit needing a missing one fails clearly and
// leaves nothing behind.
func TestRealRootV2NoControllers(t *testing.T) {
	m, project := realV2Mount(t)
	avail, err := m.v2Available()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(avail, " "), "pids") {
		t.Skip("the pids controller is available on this host's cgroup2")
	}
	_, err = m.Create(context.Background(), project, "c1", Limits{PidsLimit: 5})
	if err == nil || !strings.Contains(err.Error(), "pids controller") {
		t.Fatalf("err = %v, want one naming the pids controller", err)
	}
}
