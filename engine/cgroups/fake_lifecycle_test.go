package cgroups

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// TestFakeLifecycle is the create/load/remove conformance suite, run on a
// fake tree of each mode: layout, duplicate names, project removal with the
// last container only, idempotent removal.
func TestFakeLifecycle(t *testing.T) {
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			f := newFake(t, mode)
			m := f.manager("berth")
			ctx := context.Background()
			a, err := m.Create(ctx, "proj", "a", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := m.Create(ctx, "proj", "b", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Create(ctx, "proj", "a", Limits{}); !errdefs.IsAlreadyExists(err) {
				t.Fatalf("duplicate Create err = %v, want AlreadyExists", err)
			}
			// The failed duplicate must not have removed the original.
			for _, d := range m.dirs("berth/proj/a") {
				if !exists(d) {
					t.Fatalf("%s vanished after a failed duplicate Create", d)
				}
			}
			checkPaths(t, f, a.Paths(), "berth/proj/a")
			if fd, err := a.FD(); mode == ModeV2 && (err != nil || fd < 0) {
				t.Errorf("v2 FD = %d, %v; want a directory fd", fd, err)
			} else if mode != ModeV2 && (err != nil || fd != -1) {
				t.Errorf("%s FD = %d, %v; want -1", mode, fd, err)
			}

			l, err := m.Load("proj", "a")
			if err != nil {
				t.Fatal(err)
			}
			if !maps2Equal(l.Paths(), a.Paths()) {
				t.Errorf("Load paths %v != Create paths %v", l.Paths(), a.Paths())
			}
			if _, err := m.Load("proj", "nosuch"); !errdefs.IsNotFound(err) {
				t.Errorf("Load of a missing cgroup: err = %v, want NotFound", err)
			}

			if err := a.Remove(ctx); err != nil {
				t.Fatal(err)
			}
			for _, d := range m.dirs("berth/proj") {
				if !exists(d) {
					t.Errorf("project cgroup %s removed while container b still has one", d)
				}
			}
			if err := l.Remove(ctx); err != nil {
				t.Errorf("second Remove of the same cgroup: %v, want success", err)
			}
			if err := b.Remove(ctx); err != nil {
				t.Fatal(err)
			}
			for _, d := range m.dirs("berth/proj") {
				if exists(d) {
					t.Errorf("project cgroup %s left after its last container", d)
				}
			}
			for _, d := range m.dirs("berth") {
				if !exists(d) {
					t.Errorf("parent cgroup %s removed: berth never removes the shared parent", d)
				}
			}
			if _, err := m.Load("proj", "a"); !errdefs.IsNotFound(err) {
				t.Errorf("Load after Remove: err = %v, want NotFound", err)
			}
		})
	}
}

// checkPaths: every controller of the mode maps to <hierarchy>/<rel>, with
// co-mounted controllers sharing a directory.
func checkPaths(t *testing.T, f *fakeFS, paths map[string]string, rel string) {
	t.Helper()
	want := map[string]string{}
	if f.mode == ModeV2 {
		want[""] = filepath.Join(f.root, rel)
	} else {
		for _, h := range v1FakeHierarchies {
			for _, s := range h.Subsystems {
				want[s] = filepath.Join(f.root, h.Dir, rel)
			}
		}
		if f.mode == ModeHybrid {
			want[""] = filepath.Join(f.root, "unified", rel)
		}
	}
	if !maps2Equal(paths, want) {
		t.Errorf("Paths() = %v\nwant %v", paths, want)
	}
	for _, d := range paths {
		if !exists(d) {
			t.Errorf("%s does not exist", d)
		}
	}
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestFakeCreateRollback: a failure in the middle of Create (here mkdir in
// the pids hierarchy) leaves nothing behind in the others.
func TestFakeCreateRollback(t *testing.T) {
	f := newFake(t, ModeHybrid)
	m := f.manager("berth")
	f.failDir = filepath.Join(f.root, "pids/berth/proj/c1")
	if _, err := m.Create(context.Background(), "proj", "c1", Limits{}); err == nil {
		t.Fatal("Create succeeded despite a failing mkdir")
	}
	for _, d := range m.dirs("berth/proj") {
		if exists(d) {
			t.Errorf("%s left behind by a failed Create", d)
		}
	}
}

// TestFakeRemoveRefusesBusy: Remove does not delete a cgroup with
// processes; it names them and says to kill first. (Uses a short context
// rather than the 10 s bound.)
func TestFakeRemoveRefusesBusy(t *testing.T) {
	f := newFake(t, ModeV1)
	m := f.manager("berth")
	cg, err := m.Create(context.Background(), "proj", "c1", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A pid that is certainly alive: this test process.
	self := os.Getpid()
	f.writeAll(filepath.Join(f.root, "memory/berth/proj/c1"), map[string]string{"cgroup.procs": strconv.Itoa(self) + "\n"})
	if pids, err := cg.Pids(); err != nil || !slices.Equal(pids, []int{self}) {
		t.Fatalf("Pids = %v, %v; want [%d]", pids, err, self)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := cg.Remove(ctx); err == nil {
		t.Fatal("Remove of a populated cgroup succeeded")
	}
	if !exists(filepath.Join(f.root, "memory/berth/proj/c1")) {
		t.Fatal("populated cgroup was removed")
	}
}

// TestFakeWaitEmptyInotify: WaitEmpty on v2 sleeps until cgroup.events
// changes to "populated 0", and gives up with the context.
func TestFakeWaitEmptyInotify(t *testing.T) {
	f := newFake(t, ModeV2)
	m := f.manager("berth")
	cg, err := m.Create(context.Background(), "proj", "c1", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(f.root, "berth/proj/c1")
	f.writeAll(leaf, map[string]string{"cgroup.events": "populated 1\nfrozen 0\n"})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err = cg.WaitEmpty(ctx)
	cancel()
	if err == nil {
		t.Fatal("WaitEmpty returned while populated 1")
	}

	done := make(chan error, 1)
	go func() { done <- cg.WaitEmpty(context.Background()) }()
	// Modify the file twice, in place as the kernel does (a truncating
	// write would show an empty file in between): an unrelated change
	// first, then the one that matters.
	overwrite := func(s string) {
		fh, err := os.OpenFile(filepath.Join(leaf, "cgroup.events"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		if _, err := fh.WriteAt([]byte(s), 0); err != nil {
			t.Fatal(err)
		}
	}
	overwrite("populated 1\nfrozen 1\n")
	overwrite("populated 0\nfrozen 0\n")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitEmpty did not notice populated 0")
	}
}

// TestFakeSweep: leftover cgroups of dead containers (also half-made ones,
// present in one hierarchy only) are removed with their emptied projects;
// live ones and the monitors' cgroup stay.
func TestFakeSweep(t *testing.T) {
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			f := newFake(t, mode)
			m := f.manager("berth")
			ctx := context.Background()
			for _, pc := range [][2]string{{"p1", "dead"}, {"p1", "live"}, {"p2", "dead2"}} {
				if _, err := m.Create(ctx, pc[0], pc[1], Limits{}); err != nil {
					t.Fatal(err)
				}
			}
			// Half made: a killed Create got through one hierarchy only.
			for _, rel := range []string{"berth/p3", "berth/p3/half"} {
				if err := f.mkdir(filepath.Join(m.bases()[0], rel)); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.PlaceMonitor(ctx, os.Getpid()); err != nil {
				t.Fatal(err)
			}
			if err := m.Sweep(ctx, func(id string) bool { return id == "live" }); err != nil {
				t.Fatal(err)
			}
			for _, rel := range []string{"berth/p1/dead", "berth/p2", "berth/p3"} {
				for _, d := range m.dirs(rel) {
					if exists(d) {
						t.Errorf("%s survived the sweep", d)
					}
				}
			}
			for _, rel := range []string{"berth/p1/live", "berth/_monitors"} {
				for _, d := range m.dirs(rel) {
					if !exists(d) {
						t.Errorf("%s was swept", d)
					}
				}
			}
		})
	}
}
