// Package berthtest drives the built berth binary for the examples'
// end-to-end tests and benchmarks: it builds ./cmd/berth once into a
// temporary directory and runs commands against a private root.
package berthtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// RepoRoot is the repository's top directory (found from this file).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Build compiles ./cmd/berth and its helpers (berth-monitor, berth-init)
// into dir and returns the berth binary's path.
func Build(dir string) (string, error) {
	// The helpers beside berth, built as `task build` builds them.
	cmd := exec.Command("./scripts/build.sh", dir)
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/build.sh: %v\n%s", err, out)
	}
	return filepath.Join(dir, "berth"), nil
}

// Berth runs the binary against one root and project.
type Berth struct {
	Bin     string
	Root    string
	Project string
	// Files are the -f arguments.
	Files []string
	// Env is added to the process's environment.
	Env []string
}

// Result is a finished command.
type Result struct {
	Stdout, Stderr string
	Code           int
	Took           time.Duration
}

// Run runs `berth --root R -p P -f F… --progress plain args…`.
func (b *Berth) Run(ctx context.Context, args ...string) Result {
	full := []string{"--root", b.Root, "--progress", "plain"}
	if b.Project != "" {
		full = append(full, "-p", b.Project)
	}
	for _, f := range b.Files {
		full = append(full, "-f", f)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, b.Bin, full...)
	cmd.Env = append(os.Environ(), b.Env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Took: time.Since(t0)}
	if err != nil {
		r.Code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		} else {
			r.Stderr += err.Error()
		}
	}
	return r
}

// Must runs args and fails tb when the command does not exit 0.
func (b *Berth) Must(tb testing.TB, ctx context.Context, args ...string) Result {
	tb.Helper()
	r := b.Run(ctx, args...)
	if r.Code != 0 {
		tb.Fatalf("berth %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}
