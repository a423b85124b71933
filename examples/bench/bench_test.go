package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/testutil"
	"github.com/berthdev/berth/examples/internal/berthtest"
)

// bin is the berth binary built by TestMain (empty when the run has no
// benchmarks: building is skipped for plain `go test`).
var bin string

func TestMain(m *testing.M) {
	code := func() int {
		if wantsBench() {
			dir, err := os.MkdirTemp("", "berth-bench-bin")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			if bin, err = berthtest.Build(dir); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func wantsBench() bool {
	for _, a := range os.Args {
		if strings.HasPrefix(a, "-test.bench=") && a != "-test.bench=" && a != "-test.bench=^$" {
			return true
		}
	}
	return false
}

// stack sets up a berth root and project for one stack; down -v cleans up
// at the end.
func stack(b *testing.B, name string) *berthtest.Berth {
	b.Helper()
	testutil.RequiresRoot(b)
	testutil.RequiresRegistry(b)
	if bin == "" {
		b.Skip("berth binary not built")
	}
	dir, err := filepath.Abs(name)
	if err != nil {
		b.Fatal(err)
	}
	br := &berthtest.Berth{Bin: bin, Root: b.TempDir(),
		Project: fmt.Sprintf("bench%s%d", strings.ReplaceAll(name, "/", ""), os.Getpid()%100000),
		Files:   []string{filepath.Join(dir, "compose.yaml")}}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		br.Run(ctx, "down", "-v", "-t", "0")
	})
	// Images are pulled once, before anything is timed.
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	br.Must(b, c, "up", "--no-start")
	br.Must(b, c, "down", "-v")
	return br
}

func ctx(b *testing.B) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	return c
}

// measureUp times `up` with args from nothing (images present; the
// containers, networks and volumes removed before each run).
func measureUp(b *testing.B, dir string, n int, args ...string) {
	br := stack(b, dir)
	c := ctx(b)
	testutil.Measure(b, n, func(int) time.Duration {
		br.Must(b, c, "down", "-v", "-t", "0")
		return br.Must(b, c, append([]string{"up", "-d"}, args...)...).Took
	})
}

// measureNoop times a second `up -d` that has nothing to do.
func measureNoop(b *testing.B, dir string, n int) {
	br := stack(b, dir)
	c := ctx(b)
	br.Must(b, c, "up", "-d", "--wait")
	testutil.Measure(b, n, func(int) time.Duration {
		r := br.Must(b, c, "up", "-d")
		if strings.Contains(r.Stderr, "Created") || strings.Contains(r.Stderr, "Recreate") {
			b.Fatalf("second up changed something:\n%s", r.Stderr)
		}
		return r.Took
	})
}

// measureDown times `down` of a running stack.
func measureDown(b *testing.B, dir string, n int) {
	br := stack(b, dir)
	c := ctx(b)
	testutil.Measure(b, n, func(int) time.Duration {
		br.Must(b, c, "up", "-d", "--wait")
		return br.Must(b, c, "down").Took
	})
}

// BenchmarkRunRmTrue times `run --rm` of `true` end to end through the CLI
// (a one-off container of web3's db service on the project network, no
// dependencies started): load, create, start, wait, remove.
func BenchmarkRunRmTrue(b *testing.B) {
	br := stack(b, "web3")
	c := ctx(b)
	testutil.Measure(b, 9, func(int) time.Duration {
		return br.Must(b, c, "run", "--rm", "--no-deps", "db", "true").Took
	})
}

func BenchmarkWeb3UpCold(b *testing.B)     { measureUp(b, "web3", 5) }
func BenchmarkWeb3UpWaitCold(b *testing.B) { measureUp(b, "web3", 5, "--wait") }
func BenchmarkWeb3UpNoop(b *testing.B)     { measureNoop(b, "web3", 9) }
func BenchmarkWeb3Down(b *testing.B)       { measureDown(b, "web3", 5) }
func BenchmarkWeb3SlowDown(b *testing.B)   { measureDown(b, "web3slow", 3) }
func BenchmarkWide30UpCold(b *testing.B)   { measureUp(b, "wide30", 3) }
func BenchmarkWide30UpWait(b *testing.B)   { measureUp(b, "wide30", 3, "--wait") }
func BenchmarkWide30UpNoop(b *testing.B)   { measureNoop(b, "wide30", 5) }
func BenchmarkWide30Down(b *testing.B)     { measureDown(b, "wide30", 3) }
func BenchmarkWide200UpCold(b *testing.B)  { measureUp(b, "wide200", 3) }
func BenchmarkWide200UpNoop(b *testing.B)  { measureNoop(b, "wide200", 3) }
func BenchmarkWide200Down(b *testing.B)    { measureDown(b, "wide200", 3) }
