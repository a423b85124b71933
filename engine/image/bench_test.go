package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/testutil"
)

// BenchmarkPullPostgresCold pulls and unpacks the 127.0.0.1:5000/debian-pg:15
// fixture (about 490 MB unpacked) into an empty store, and in the same
// iterations, interleaved, does what the issue compares it with: `skopeo
// copy` of the image to a local OCI directory plus `umoci unpack` of it.
// ms-* are berth's figures; skopeo-umoci-ms-median is the other's and
// ratio is berth/other (target ≤ 0.8).
func BenchmarkPullPostgresCold(b *testing.B) {
	testutil.RequiresRegistry(b)
	for _, tool := range []string{"skopeo", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed (go tool task deps)", tool)
		}
	}
	ctx := context.Background()
	var other []time.Duration
	median, _, _ := testutil.Measure(b, 3, func(i int) time.Duration {
		dir, err := os.MkdirTemp("/var/tmp", "berth-bench-")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
		s, err := New(Options{Root: filepath.Join(dir, "images"), Snapshots: filepath.Join(dir, "snapshots")})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := s.Pull(ctx, testutil.PostgresImage, PullOptions{}); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)

		t1 := time.Now()
		copyCmd := exec.Command("skopeo", "copy", "--quiet", "--src-tls-verify=false",
			"docker://"+testutil.PostgresImage, "oci:"+filepath.Join(dir, "oci")+":pg")
		if out, err := copyCmd.CombinedOutput(); err != nil {
			b.Fatalf("skopeo copy: %v: %s", err, out)
		}
		unpack := exec.Command("umoci", "unpack", "--image", filepath.Join(dir, "oci")+":pg", filepath.Join(dir, "bundle"))
		if out, err := unpack.CombinedOutput(); err != nil {
			b.Fatalf("umoci unpack: %v: %s", err, out)
		}
		if i >= 0 {
			other = append(other, time.Since(t1))
		}
		return d
	})
	slices.Sort(other)
	om := other[len(other)/2]
	b.ReportMetric(float64(om.Microseconds())/1000, "skopeo-umoci-ms-median")
	b.ReportMetric(float64(median)/float64(om), "ratio")
}

// BenchmarkPullPresent pulls an image that is already in the store (one
// HEAD request to the registry; target < 50 ms).
func BenchmarkPullPresent(b *testing.B) {
	testutil.RequiresRegistry(b)
	ctx := context.Background()
	dir := b.TempDir()
	s, err := New(Options{Root: filepath.Join(dir, "images"), Snapshots: filepath.Join(dir, "snapshots")})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Pull(ctx, testutil.BusyboxImage, PullOptions{}); err != nil {
		b.Fatal(err)
	}
	testutil.Measure(b, 20, func(int) time.Duration {
		s, err := New(Options{Root: filepath.Join(dir, "images"), Snapshots: filepath.Join(dir, "snapshots")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Pull(ctx, testutil.BusyboxImage, PullOptions{}); err != nil {
			b.Fatal(err)
		}
		return -1
	})
}
