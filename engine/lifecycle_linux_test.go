package engine

import (
	"context"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
)

// TestLifecycle: create, start, logs, stop (a PID 1 without a TERM handler
// is killed at once, with the reason), inspect, remove.
func TestLifecycle(t *testing.T) {
	te := newTestEngine(t)
	ctx := context.Background()
	c := te.run(te.spec("web", "sh", "-c", "echo hello; echo oops >&2; exec sleep 1000"))
	te.waitLog(c.ID, "stderr: oops")
	got, err := te.Inspect(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.State.Running || got.State.Pid == 0 || !got.State.MonitorAlive || got.State.Status != StatusRunning {
		t.Fatalf("after start: %+v", got.State)
	}
	for _, ref := range []string{c.Name, c.ID[:12]} {
		if byRef, err := te.Inspect(ctx, ref); err != nil || byRef.ID != c.ID {
			t.Errorf("inspect %q: %v", ref, err)
		}
	}
	list, err := te.List(ctx, ListOptions{Labels: map[string]string{"com.docker.compose.project": te.project}})
	if err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("list: %v %v", list, err)
	}
	if err := te.Remove(ctx, c.ID, RemoveOptions{}); !errdefs.IsConflict(err) {
		t.Fatalf("remove of a running container: %v, want a conflict", err)
	}
	res, err := te.Stop(ctx, c.ID, StopOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Killed || res.Reason != "PID 1 has no handler for SIGTERM" {
		t.Fatalf("stop: %+v, want killed at once for want of a handler", res)
	}
	got, _ = te.Inspect(ctx, c.ID)
	if got.State.Running || got.State.Status != StatusExited || got.State.ExitCode != 137 {
		t.Fatalf("after stop: %+v", got.State)
	}
	logs := te.logs(c.ID)
	if !slices.Contains(logs, "stdout: hello") || !slices.Contains(logs, "stderr: oops") {
		t.Fatalf("logs: %q", logs)
	}
	if list, _ := te.List(ctx, ListOptions{}); len(list) != 0 {
		t.Fatalf("list of running containers after stop: %d", len(list))
	}
	if err := te.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := te.Inspect(ctx, c.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect after remove: %v", err)
	}
}
