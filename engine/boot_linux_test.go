package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/berthdev/berth/engine/monitor"
)

// reboot plays a machine restart for cs: every process dies at once, the
// cgroups and the volatile directory go, and what was persisted is from a
// previous boot. It returns an engine of the new boot.
func (te *testEngine) reboot(cs ...*Container) *Engine {
	t := te.t
	t.Helper()
	ctx := context.Background()
	for _, c := range cs {
		got, err := te.Inspect(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State.Running {
			_ = syscall.Kill(monitorPid(t, te, c.ID), syscall.SIGKILL)
			_ = syscall.Kill(got.State.Pid, syscall.SIGKILL)
		}
	}
	for _, c := range cs {
		te.waitFor(c.ID, "processes gone", func(c *Container) bool { return !c.State.MonitorAlive && !c.State.Running })
		if cg, err := te.cg.Load(te.project, c.ID); err == nil {
			_ = cg.Remove(ctx)
		}
	}
	if err := os.RemoveAll(te.paths.Run); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		var last monitor.State
		p := filepath.Join(te.paths.Container(c.ID), monitor.LastStateFile)
		if err := readJSON(p, &last); err != nil {
			continue // never started
		}
		last.BootID = "previous-boot"
		if err := writeJSON(p, &last); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Paths: te.paths, Images: te.images, Snapshotter: te.snaps})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestBootStarts: after a reboot, "always" containers come back even when
// a user stopped them, "unless-stopped" ones unless a user stopped them,
// "on-failure" and "no" ones and never-started ones do not; once started
// in this boot (or stopped in it), nothing is returned again.
func TestBootStarts(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	mk := func(name, policy string, start, stop bool) *Container {
		s := te.spec(name, "sleep", "1000")
		s.Restart = RestartPolicy{Name: policy}
		if !start {
			c, err := te.Create(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		c := te.run(s)
		if stop {
			if _, err := te.Stop(ctx, c.ID, StopOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	cs := []*Container{
		mk("always", "always", true, false),
		mk("always-stopped", "always", true, true),
		mk("unless", "unless-stopped", true, false),
		mk("unless-stopped", "unless-stopped", true, true),
		mk("onfailure", "on-failure", true, false),
		mk("no", "no", true, false),
		mk("never-started", "always", false, false),
	}
	rebooted := te.reboot(cs...)
	names := func() []string {
		got, err := rebooted.BootStarts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range got {
			out = append(out, c.Name[len(te.project)+1:])
		}
		slices.Sort(out)
		return out
	}
	if got, want := names(), []string{"always", "always-stopped", "unless"}; !slices.Equal(got, want) {
		t.Fatalf("boot starts %v, want %v", got, want)
	}
	// Started in this boot, or stopped in it: not again.
	if err := rebooted.Start(ctx, cs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := rebooted.Start(ctx, cs[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rebooted.Stop(ctx, cs[1].ID, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := names(), []string{"unless"}; !slices.Equal(got, want) {
		t.Fatalf("boot starts after starting two %v, want %v", got, want)
	}
}
