package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSweepRemovesUnusedParent: a `berth` cgroup parent left with an empty
// monitors' leaf (its last monitor reaped after the last removal had
// tried) goes with the next sweep of a root that has no container.
func TestSweepRemovesUnusedParent(t *testing.T) {
	te := newTestEngine(t)
	bases := []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		bases = []string{"/sys/fs/cgroup"} // unified
	}
	for _, b := range bases {
		ents, _ := os.ReadDir(filepath.Join(b, "berth"))
		for _, e := range ents {
			if e.IsDir() && e.Name() != "_monitors" {
				t.Skipf("%s/berth/%s is in use (a stack is up): the parent cannot go", b, e.Name())
			}
		}
		if err := os.MkdirAll(filepath.Join(b, "berth", "_monitors"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := te.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, b := range bases {
		if _, err := os.Stat(filepath.Join(b, "berth")); !os.IsNotExist(err) {
			t.Errorf("%s/berth is still there after the sweep of an empty root (%v)", b, err)
		}
	}
}
