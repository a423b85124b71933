package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// tool is one way of running a compose file.
type tool struct {
	name  string
	short string // in project names: cmp<short><stack>
	// compose is the command before `-p PROJECT -f FILE ARGS…`.
	compose []string
	// engine is the engine's own CLI (`docker`, `podman`), for the plain
	// `run --rm` row and, with psLabel, for counting running containers.
	engine []string
	// psLabel, when set, is the label naming the project on the engine's
	// containers: running containers are counted with `engine ps` instead
	// of the tool's own `ps -q` (podman-compose's lists stopped ones too).
	psLabel string
	// noWait: the tool has no `up --wait`.
	noWait bool
	// strictNoop: a second `up -d` must print no Created or Recreate.
	strictNoop bool
	skip       string // why the tool is not measured
}

// measures tells whether the tool has a figure for k.
func (t *tool) measures(k kase) bool {
	switch {
	case t.skip != "":
		return false
	case k.wait && t.noWait:
		return false
	case k.kind == plainRun:
		return len(t.engine) > 0
	}
	return true
}

type kind int

const (
	upCold   kind = iota // `up -d` from nothing (images present)
	upNoop               // a second `up -d` with nothing to do
	down                 // `down` of a running stack
	runRm                // `run --rm --no-deps w01 true`
	plainRun             // the engine's own `run --rm IMAGE true`
)

// kase is one figure of the table.
type kase struct {
	id       int // in project names
	title    string
	stack    string // directory under the stacks; "" for plainRun
	kind     kind
	wait     bool // `up -d --wait`
	n        int  // most timed runs
	noWarmup bool
}

// cell is the figure of one case and tool: its timed runs, or why there
// are none.
type cell struct {
	runs []time.Duration
	err  error
}

func (c cell) String() string {
	if c.err != nil {
		return "failed: " + c.err.Error()
	}
	return summary(c.runs)
}

// runner runs the commands in the stacks' directory.
type runner struct {
	dir    string
	logDir string
	image  string
	budget time.Duration
	log    io.Writer

	services map[string]int // stack → number of services
	logs     int
}

type result struct {
	took time.Duration
	out  string
}

// exec runs argv and returns its wall time and its combined output; a
// non-zero exit is an error naming the file that keeps the output.
func (r *runner) exec(ctx context.Context, argv []string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = r.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	res := result{took: time.Since(t0), out: out.String()}
	if err != nil {
		return res, fmt.Errorf("%s: %v%s", strings.Join(argv, " "), err, r.keep(argv, res.out))
	}
	return res, nil
}

// keep writes a failed command's output to the log directory.
func (r *runner) keep(argv []string, out string) string {
	r.logs++
	path := filepath.Join(r.logDir, fmt.Sprintf("%03d.log", r.logs))
	if err := os.WriteFile(path, []byte(strings.Join(argv, " ")+"\n\n"+out), 0o644); err != nil {
		return ""
	}
	return " (output in " + path + ")"
}

// project is one tool's project of one stack.
type project struct {
	r    *runner
	t    *tool
	name string
	file string
	want int // services, all running after up
}

// project names t's project of case k's stack, cmp<tool><stack><case>: a
// project one figure leaves behind (dockerd 20.10 under load can fail a
// `down` with "network … has active endpoints") does not fail the next.
func (r *runner) project(ctx context.Context, t, berth *tool, k kase) (*project, error) {
	stack := k.stack
	file := filepath.Join(r.dir, stack, "compose.yaml")
	if r.services == nil {
		r.services = map[string]int{}
	}
	if _, ok := r.services[stack]; !ok {
		res, err := r.exec(ctx, append(slices.Clone(berth.compose), "-f", file, "config", "--services"))
		if err != nil {
			return nil, err
		}
		r.services[stack] = len(strings.Fields(res.out))
	}
	name := fmt.Sprintf("cmp%s%s%d", t.short, stack, k.id)
	return &project{r: r, t: t, name: name, file: file, want: r.services[stack]}, nil
}

func (p *project) run(ctx context.Context, args ...string) (result, error) {
	argv := append(slices.Clone(p.t.compose), "-p", p.name, "-f", p.file)
	return p.r.exec(ctx, append(argv, args...))
}

// up runs `up -d`, with --wait where the tool has it, and checks that every
// service runs.
func (p *project) up(ctx context.Context) error {
	args := []string{"up", "-d"}
	if !p.t.noWait {
		args = append(args, "--wait")
	}
	if _, err := p.run(ctx, args...); err != nil {
		return err
	}
	return p.expect(ctx, p.want)
}

// expect checks that n of the project's containers run.
func (p *project) expect(ctx context.Context, n int) error {
	argv := append(slices.Clone(p.t.compose), "-p", p.name, "-f", p.file, "ps", "-q")
	if p.t.psLabel != "" {
		argv = append(slices.Clone(p.t.engine), "ps", "-q", "--filter", "label="+p.t.psLabel+"="+p.name)
	}
	res, err := p.r.exec(ctx, argv)
	if err != nil {
		return err
	}
	if got := countIDs(res.out); got != n {
		return fmt.Errorf("%s: %d container(s) of %s run, want %d%s", p.t.name, got, p.name, n, p.r.keep(argv, res.out))
	}
	return nil
}

// reset removes the project's containers, networks and volumes.
func (p *project) reset(ctx context.Context) error {
	_, err := p.run(ctx, "down", "-v", "-t", "0")
	return err
}

var idLine = regexp.MustCompile(`(?m)^[0-9a-f]{12,64}$`)

// countIDs counts the container IDs, one a line, in a `ps -q` output
// (podman-compose adds lines of its own).
func countIDs(out string) int {
	return len(idLine.FindAllString(out, -1))
}

// step is an untimed part of one run (nil: none).
type step func(ctx context.Context) error

// cell measures case k with tool t: up to k.n timed runs, fewer once the
// runs took r.budget, each with its untimed preparation and check. The
// project is removed before and after, after also when ctx is cancelled.
func (r *runner) cell(ctx context.Context, k kase, t, berth *tool) (c cell) {
	var p *project
	if k.stack != "" {
		var err error
		if p, err = r.project(ctx, t, berth, k); err != nil {
			return cell{err: err}
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			if err := p.reset(ctx); err != nil && c.err == nil {
				c.err = err
			}
		}()
		if err := p.reset(ctx); err != nil {
			return cell{err: err}
		}
	}
	var setup, before step
	var timed func(ctx context.Context) (result, error)
	var after func(ctx context.Context, res result) error
	switch k.kind {
	case upCold:
		before = p.reset
		args := []string{"up", "-d"}
		if k.wait {
			args = append(args, "--wait")
		}
		timed = func(ctx context.Context) (result, error) { return p.run(ctx, args...) }
		after = func(ctx context.Context, _ result) error { return p.expect(ctx, p.want) }
	case upNoop:
		setup = p.up
		timed = func(ctx context.Context) (result, error) { return p.run(ctx, "up", "-d") }
		after = func(ctx context.Context, res result) error {
			if t.strictNoop && (strings.Contains(res.out, "Created") || strings.Contains(res.out, "Recreate")) {
				return fmt.Errorf("%s: the second `up -d` changed something:\n%s", t.name, res.out)
			}
			return p.expect(ctx, p.want)
		}
	case down:
		before = p.up
		timed = func(ctx context.Context) (result, error) { return p.run(ctx, "down") }
		after = func(ctx context.Context, _ result) error { return p.expect(ctx, 0) }
	case runRm:
		timed = func(ctx context.Context) (result, error) {
			return p.run(ctx, "run", "--rm", "--no-deps", "w01", "true")
		}
	case plainRun:
		argv := append(slices.Clone(t.engine), "run", "--rm", r.image, "true")
		timed = func(ctx context.Context) (result, error) { return r.exec(ctx, argv) }
	}
	if setup != nil {
		if err := setup(ctx); err != nil {
			return cell{err: err}
		}
	}
	warm := k.n > 1 && !k.noWarmup
	start := time.Now()
	for len(c.runs) < k.n && (len(c.runs) == 0 || time.Since(start) < r.budget) {
		if before != nil {
			if err := before(ctx); err != nil {
				return cell{runs: c.runs, err: err}
			}
		}
		res, err := timed(ctx)
		if err == nil && after != nil {
			err = after(ctx, res)
		}
		if err != nil {
			return cell{runs: c.runs, err: err}
		}
		if warm {
			warm = false
			// The first run warms caches and is not counted, unless it is
			// slow enough for its cold caches not to matter (podman-compose's
			// minute-long runs): then it counts, and the budget holds.
			if res.took < r.budget/4 {
				continue
			}
		}
		c.runs = append(c.runs, res.took)
	}
	return c
}
