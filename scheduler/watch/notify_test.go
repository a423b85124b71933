package watch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// collector runs a Watcher and gathers every path it reports.
type collector struct {
	mu      sync.Mutex
	seen    map[string]bool
	batches int
	done    chan error
	cancel  context.CancelFunc
}

func startWatcher(t *testing.T, opts Options) *collector {
	t.Helper()
	if opts.Quiet == 0 {
		opts.Quiet = 50 * time.Millisecond
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{seen: map[string]bool{}, done: make(chan error, 1), cancel: cancel}
	go func() {
		c.done <- w.Run(ctx, func(_ context.Context, batch []string) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.batches++
			for _, p := range batch {
				c.seen[p] = true
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return c
}

// waitFor polls (generously) until every path has been reported.
func (c *collector) waitFor(t *testing.T, paths ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.mu.Lock()
		missing := []string{}
		for _, p := range paths {
			if !c.seen[p] {
				missing = append(missing, p)
			}
		}
		c.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reported in 30s: %v", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *collector) has(p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[p]
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatcherTree: writes, new nested directories (made faster than a
// watch can follow), removals and renames anywhere under the root are
// reported; what Keep refuses and what lies outside the root are not.
func TestWatcherTree(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(root, "old", "gone.txt"), "x")
	writeFile(t, filepath.Join(dir, "outside.txt"), "x")
	c := startWatcher(t, Options{Paths: []string{root}, Keep: func(p string) bool {
		return !strings.HasSuffix(p, ".tmp")
	}})

	// An ignored file written first: it must not show up in any batch.
	writeFile(t, filepath.Join(root, "skip.tmp"), "x")
	writeFile(t, filepath.Join(dir, "outside.txt"), "y")
	deep := filepath.Join(root, "a", "b", "c", "deep.txt")
	writeFile(t, deep, "x")
	top := filepath.Join(root, "top.txt")
	writeFile(t, top, "x")
	c.waitFor(t, deep, top)

	if err := os.Remove(filepath.Join(root, "old", "gone.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(top, filepath.Join(root, "renamed.txt")); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, filepath.Join(root, "old", "gone.txt"), filepath.Join(root, "renamed.txt"))

	// The new directory a/b/c is watched: a later write there is seen.
	later := filepath.Join(root, "a", "b", "c", "later.txt")
	writeFile(t, later, "x")
	c.waitFor(t, later)

	for _, p := range []string{filepath.Join(root, "skip.tmp"), filepath.Join(dir, "outside.txt")} {
		if c.has(p) {
			t.Errorf("%s reported", p)
		}
	}
}

// TestWatcherRootRemade: a root removed (reported: its content is gone)
// and made again (a branch switch) is watched again.
func TestWatcherRootRemade(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(root, "a.txt"), "x")
	c := startWatcher(t, Options{Paths: []string{root}})
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, filepath.Join(root, "a.txt"), root)
	writeFile(t, filepath.Join(root, "b.txt"), "x")
	c.waitFor(t, filepath.Join(root, "b.txt"))
	// The new root directory is watched: a later write in it is seen.
	writeFile(t, filepath.Join(root, "c.txt"), "x")
	c.waitFor(t, filepath.Join(root, "c.txt"))
}

// TestWatcherMissingRoot: a root that does not exist yet is reported once
// it is made, and its siblings are not.
func TestWatcherMissingRoot(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "later", "src")
	c := startWatcher(t, Options{Paths: []string{root}})
	writeFile(t, filepath.Join(dir, "sibling", "x.txt"), "x")
	f := filepath.Join(root, "main.go")
	writeFile(t, f, "package main")
	c.waitFor(t, f)
	if c.has(filepath.Join(dir, "sibling", "x.txt")) {
		t.Error("sibling of a missing root reported")
	}
	// The new root is watched from now on.
	g := filepath.Join(root, "more.go")
	writeFile(t, g, "package main")
	c.waitFor(t, g)
}

// TestWatcherFile: a single watched file is reported when written; its
// neighbours are not.
func TestWatcherFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "config.json")
	writeFile(t, f, "{}")
	c := startWatcher(t, Options{Paths: []string{f}})
	writeFile(t, filepath.Join(dir, "other.json"), "{}")
	writeFile(t, f, `{"a":1}`)
	c.waitFor(t, f)
	if c.has(filepath.Join(dir, "other.json")) {
		t.Error("neighbour of a watched file reported")
	}
}

func TestWatcherRefusesRootAndRelative(t *testing.T) {
	if _, err := New(Options{Paths: []string{"/nonexistent-berth-watch-test/x"}}); err == nil {
		t.Error("watching / (the closest existing parent) accepted")
	}
	if _, err := New(Options{Paths: []string{"rel/path"}}); err == nil {
		t.Error("relative path accepted")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("no path accepted")
	}
}
