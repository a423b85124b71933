package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/engine/testutil"
)

// lifecycle runs compose commands in-process against one root and one
// project directory (the re-exec entry points are dispatched by TestMain).
type lifecycle struct {
	t       *testing.T
	root    string
	dir     string
	project string
}

func newLifecycle(t *testing.T, name string) *lifecycle {
	testutil.RequiresRoot(t)
	testutil.RequiresRegistry(t)
	l := &lifecycle{t: t, root: t.TempDir(), dir: t.TempDir(), project: name + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")}
	t.Cleanup(func() { l.run("down", "-v", "-t", "0") })
	return l
}

func (l *lifecycle) write(compose string) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lifecycle) run(args ...string) (string, string, int) {
	var stdout, stderr bytes.Buffer
	code := l.runIO(strings.NewReader(""), &stdout, &stderr, args...)
	return stdout.String(), stderr.String(), code
}

// runIO runs a command with the given standard streams.
func (l *lifecycle) runIO(stdin io.Reader, stdout, stderr io.Writer, args ...string) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, environ: map[string]string{"PATH": os.Getenv("PATH")}, workingDir: l.dir}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return c.execute(ctx, append([]string{"--root", l.root, "-p", l.project, "--progress", "plain"}, args...))
}

func (l *lifecycle) must(args ...string) (string, string) {
	l.t.Helper()
	out, errs, code := l.run(args...)
	if code != 0 {
		l.t.Fatalf("berth %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out, errs
}

// ids maps container names to IDs.
func (l *lifecycle) ids() map[string]string {
	l.t.Helper()
	out, _ := l.must("ps", "-a", "--format", "{{.Name}} {{.ID}} {{.State}}")
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			m[f[0]] = f[1] + " " + f[2]
		}
	}
	return m
}

const lifecycleCompose = `
services:
  a:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      start_interval: 100ms
  b:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: {X: "1"}
    depends_on:
      a: {condition: service_healthy}
`

// TestLifecycleRootConvergence: a second up touches nothing; a changed
// service is recreated alone; --scale adds replicas; orphans are reported
// and removed with --remove-orphans; down removes everything.
func TestLifecycleRootConvergence(t *testing.T) {
	l := newLifecycle(t, "conv")
	l.write(lifecycleCompose)
	l.must("up", "-d", "--wait")
	first := l.ids()
	a, b := l.project+"-a-1", l.project+"-b-1"
	if !strings.HasSuffix(first[a], "running") || !strings.HasSuffix(first[b], "running") {
		t.Fatalf("after up: %v", first)
	}

	_, errs := l.must("up", "-d")
	for _, w := range []string{"Creat", "Recreat", "Start"} {
		if strings.Contains(errs, w) {
			t.Errorf("second up did %q:\n%s", w, errs)
		}
	}
	if again := l.ids(); again[a] != first[a] || again[b] != first[b] {
		t.Errorf("second up changed containers: %v -> %v", first, again)
	}

	l.write(strings.Replace(lifecycleCompose, `X: "1"`, `X: "2"`, 1))
	_, errs = l.must("up", "-d")
	if !strings.Contains(errs, "Container "+b+" Recreated") || strings.Contains(errs, "Container "+a+" Recreated") {
		t.Errorf("changed b: want b alone recreated:\n%s", errs)
	}
	changed := l.ids()
	if changed[a] != first[a] || changed[b] == first[b] {
		t.Errorf("after change: %v -> %v", first, changed)
	}
	if out, _ := l.must("exec", "-T", "b", "sh", "-c", "echo $X"); strings.TrimSpace(out) != "2" {
		t.Errorf("recreated b has X=%q", out)
	}

	l.must("up", "-d", "--scale", "b=2")
	if n := len(l.ids()); n != 3 {
		t.Errorf("--scale b=2: %d containers", n)
	}

	l.write(`
services:
  a:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      start_interval: 100ms
`)
	_, errs = l.must("up", "-d")
	if !strings.Contains(errs, "Found orphan containers") || !strings.Contains(errs, "--remove-orphans") {
		t.Errorf("no orphan warning:\n%s", errs)
	}
	l.must("up", "-d", "--remove-orphans")
	if got := l.ids(); len(got) != 1 || got[a] == "" {
		t.Errorf("after --remove-orphans: %v", got)
	}

	l.must("down")
	if got := l.ids(); len(got) != 0 {
		t.Errorf("after down: %v", got)
	}
}

// TestLifecycleRootDependencyFailures: docker compose's messages and exit
// status for an unhealthy dependency and a failed one-shot job.
func TestLifecycleRootDependencyFailures(t *testing.T) {
	l := newLifecycle(t, "deps")
	l.write(`
services:
  db:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
      start_interval: 100ms
  app:
    image: 127.0.0.1:5000/busybox:1
    command: ["sleep", "3600"]
    depends_on: {db: {condition: service_healthy}}
  job:
    image: 127.0.0.1:5000/busybox:1
    command: ["sh", "-c", "exit 3"]
  app2:
    image: 127.0.0.1:5000/busybox:1
    command: ["sleep", "3600"]
    depends_on: {job: {condition: service_completed_successfully}}
`)
	_, errs, code := l.run("up", "-d", "app")
	if code != 1 || !strings.Contains(errs, "dependency failed to start: container "+l.project+"-db-1 is unhealthy") {
		t.Errorf("unhealthy dependency: exit %d\n%s", code, errs)
	}
	_, errs, code = l.run("up", "-d", "app2")
	if code != 1 || !strings.Contains(errs, `service "job" didn't complete successfully: exit 3`) {
		t.Errorf("failed job: exit %d\n%s", code, errs)
	}
}

// TestLifecycleRootRun: run's exit code and output are the command's, --rm
// leaves nothing, -d prints the one-off's name.
func TestLifecycleRootRun(t *testing.T) {
	l := newLifecycle(t, "run")
	l.write(lifecycleCompose)
	// --no-deps starts nothing: neither the dependency nor the service's
	// own container.
	if out, _, code := l.run("run", "--rm", "-T", "--no-deps", "b", "echo", "alone"); code != 0 || strings.TrimSpace(out) != "alone" {
		t.Errorf("run --no-deps: exit %d, output %q", code, out)
	}
	if ids := l.ids(); len(ids) != 0 {
		t.Errorf("after run --rm --no-deps: %v", ids)
	}
	out, _, code := l.run("run", "--rm", "-T", "-e", "Y=7", "b", "sh", "-c", "echo got $X $Y; exit 5")
	if code != 5 || strings.TrimSpace(out) != "got 1 7" {
		t.Errorf("run: exit %d, output %q", code, out)
	}
	// The dependency was started; the one-off is gone (--rm).
	ids := l.ids()
	if len(ids) != 1 || !strings.HasSuffix(ids[l.project+"-a-1"], "running") {
		t.Errorf("after run --rm: %v", ids)
	}
	out, _ = l.must("run", "-d", "b", "sleep", "30")
	if !strings.HasPrefix(strings.TrimSpace(out), l.project+"-b-run-") {
		t.Errorf("run -d printed %q", out)
	}
}
