package cgroups

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/engine/testutil"
)

// benchLimits is a typical service's settings: memory, cpus, pids and the
// default device rules.
var benchLimits = Limits{Memory: 256 << 20, NanoCPUs: 1e9, PidsLimit: 100}

// benchRuns is how many create/remove cycles each benchmark measures.
const benchRuns = 50

func benchV1(b *testing.B) (*Manager, string) {
	b.Helper()
	testutil.RequiresRoot(b)
	m, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if m.Mode().Unified() {
		b.Skip("this host is cgroup v2")
	}
	project := uniqueProject()
	b.Cleanup(func() { benchCleanup(b, m, project) })
	return m, project
}

func benchCleanup(b *testing.B, m *Manager, project string) {
	for _, base := range m.bases() {
		if d := filepath.Join(base, m.parent, project); exists(d) {
			b.Errorf("leftover cgroup %s", d)
		}
	}
}

func benchID(i int) string {
	if i < 0 {
		return "warmup"
	}
	return fmt.Sprintf("c%d", i)
}

// BenchmarkRealRootV1Create is the time to create a container's cgroup with
// limits in every v1 hierarchy of this host (removal not counted).
func BenchmarkRealRootV1Create(b *testing.B) {
	m, project := benchV1(b)
	ctx := context.Background()
	testutil.Measure(b, benchRuns, func(i int) time.Duration {
		t0 := time.Now()
		cg, err := m.Create(ctx, project, benchID(i), benchLimits)
		d := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if err := cg.Remove(ctx); err != nil {
			b.Fatal(err)
		}
		return d
	})
}

// BenchmarkRealRootV1CreateRemove is create with limits plus remove of an
// empty cgroup (the project cgroup is made and removed each time too).
func BenchmarkRealRootV1CreateRemove(b *testing.B) {
	m, project := benchV1(b)
	ctx := context.Background()
	testutil.Measure(b, benchRuns, func(i int) time.Duration {
		cg, err := m.Create(ctx, project, benchID(i), benchLimits)
		if err != nil {
			b.Fatal(err)
		}
		if err := cg.Remove(ctx); err != nil {
			b.Fatal(err)
		}
		return -1
	})
}

// BenchmarkRealRootV2TmpCreateRemove is create (with the eBPF device filter;
// no controllers on this host's cgroup2) plus the dir fd plus remove, on a
// cgroup2 mounted by the benchmark.
func BenchmarkRealRootV2TmpCreateRemove(b *testing.B) {
	testutil.RequiresRoot(b)
	dir, err := os.MkdirTemp("", "berthbench-cg2-")
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.Mount("none", dir, "cgroup2", 0, ""); err != nil {
		_ = os.Remove(dir)
		b.Skipf("cannot mount cgroup2: %v", err)
	}
	b.Cleanup(func() {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		_ = os.Remove(dir)
	})
	m, err := New(Options{Root: dir})
	if err != nil {
		b.Fatal(err)
	}
	project := uniqueProject()
	b.Cleanup(func() { benchCleanup(b, m, project) })
	ctx := context.Background()
	testutil.Measure(b, benchRuns, func(i int) time.Duration {
		cg, err := m.Create(ctx, project, benchID(i), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cg.FD(); err != nil {
			b.Fatal(err)
		}
		if err := cg.Remove(ctx); err != nil {
			b.Fatal(err)
		}
		return -1
	})
}
