// Command compare runs the stacks of examples/bench with berth, Docker
// Compose v2 and podman-compose in one run, one tool after another, and
// prints every figure (median with min–max) with its ratio to berth's.
//
// scripts/bench-compare.sh installs the other tools, starts a dockerd of its
// own and runs this program (`go tool task bench:compare`); each tool is
// given as the command that precedes `-p PROJECT -f FILE ARGS…`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		stacks   = flag.String("stacks", "examples/bench", "directory holding the stacks (web3, web3slow, wide30)")
		berth    = flag.String("berth", "", "berth command before -p/-f, e.g. \"bin/berth --root DIR --progress plain\"")
		docker   = flag.String("docker", "", "Docker Compose command, e.g. \"docker compose --progress plain\" (empty: not measured)")
		dockerE  = flag.String("docker-engine", "", "the docker CLI for the plain `run --rm` row, e.g. \"docker\"")
		podman   = flag.String("podman", "", "podman-compose command (empty: not measured)")
		podmanE  = flag.String("podman-engine", "", "the podman CLI, for the plain `run --rm` row and counting containers")
		dockerNo = flag.String("docker-skip", "", "why Docker Compose is not measured (printed under the table)")
		podmanNo = flag.String("podman-skip", "", "why podman-compose is not measured (printed under the table)")
		image    = flag.String("image", "127.0.0.1:5000/busybox:1", "image of the plain `run --rm` row")
		n        = flag.Int("n", 5, "most timed runs of a fast figure (slow ones do fewer)")
		budget   = flag.Duration("budget", time.Minute, "no further runs of a figure once its runs took this long")
		logDir   = flag.String("log", "", "directory for the output of failed commands (default: a temporary one)")
	)
	flag.Parse()
	if *berth == "" {
		fmt.Fprintln(os.Stderr, "compare: -berth is required (berth is the baseline of every ratio)")
		os.Exit(2)
	}
	dir, err := filepath.Abs(*stacks)
	if err != nil {
		fatal(err)
	}
	if *logDir == "" {
		if *logDir, err = os.MkdirTemp("", "bench-compare-log"); err != nil {
			fatal(err)
		}
	}
	tools := []*tool{
		{name: "berth", short: "b", compose: strings.Fields(*berth), strictNoop: true},
		{name: "Docker Compose v2", short: "d", compose: strings.Fields(*docker), engine: strings.Fields(*dockerE),
			strictNoop: true, skip: *dockerNo},
		{name: "podman-compose", short: "p", compose: strings.Fields(*podman), engine: strings.Fields(*podmanE),
			noWait: true, psLabel: "io.podman.compose.project", skip: *podmanNo},
	}
	for _, t := range tools {
		if len(t.compose) == 0 && t.skip == "" {
			t.skip = "not given"
		}
	}
	// a signal stops the command running and the run: the script's trap
	// then cleans up
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &runner{dir: dir, logDir: *logDir, image: *image, budget: *budget, log: os.Stderr}
	res := r.all(ctx, cases(*n), tools)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "compare: interrupted")
		os.Exit(130)
	}
	fmt.Println(table(res, tools))
	for _, t := range tools {
		if t.skip != "" {
			fmt.Printf("%s not measured: %s\n", t.name, t.skip)
		}
	}
	if failed := res.failures(); failed > 0 {
		fmt.Printf("%d figure(s) failed: the commands' output is in %s\n", failed, *logDir)
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}

// cases lists the figures of ../shared/bench/README.md, in its order. n is
// the most runs of a fast figure.
func cases(n int) []kase {
	few := max(1, (n+1)/2)
	return []kase{
		{title: "web3 `up -d`, cold", stack: "web3", kind: upCold, n: n},
		{title: "web3 `up -d --wait`, cold", stack: "web3", kind: upCold, wait: true, n: n},
		{title: "web3 `up -d`, nothing changed", stack: "web3", kind: upNoop, n: n},
		{title: "web3 `down`", stack: "web3", kind: down, n: n},
		// the others wait out the 10 s grace period of each container: few runs
		{title: "web3slow `down`", stack: "web3slow", kind: down, n: min(n, 2), noWarmup: true},
		{title: "wide30 `up -d`, cold (35 containers)", stack: "wide30", kind: upCold, n: few},
		{title: "wide30 `up -d --wait`, cold", stack: "wide30", kind: upCold, wait: true, n: few},
		{title: "wide30 `up -d`, nothing changed", stack: "wide30", kind: upNoop, n: n},
		{title: "wide30 `down`", stack: "wide30", kind: down, n: few},
		// --no-deps changes nothing for w01 (it has none) but podman-compose
		// 1.0.3's `run` otherwise starts the whole project (its `up` of the
		// service's dependencies is an `up` of everything when there are none)
		{title: "`run --rm --no-deps w01 true` (wide30's service)", stack: "wide30", kind: runRm, n: n},
		{title: "`docker run --rm` / `podman run --rm` of `true`, no compose (¹)", kind: plainRun, n: n},
	}
}

// results holds the figure of every case and tool.
type results struct {
	cases []kase
	cells map[string]cell // case title + "\x00" + tool name
}

func (r results) get(k kase, t *tool) (cell, bool) {
	c, ok := r.cells[k.title+"\x00"+t.name]
	return c, ok
}

func (r results) failures() int {
	n := 0
	for _, c := range r.cells {
		if c.err != nil {
			n++
		}
	}
	return n
}

// all measures every case with every tool; the tools take turns within a
// case, so that a change of the machine's load over the run touches all.
// tools[0] is berth, which also counts each stack's services.
func (r *runner) all(ctx context.Context, ks []kase, tools []*tool) results {
	res := results{cases: ks, cells: map[string]cell{}}
	for i, k := range ks {
		k.id = i + 1
		for _, t := range tools {
			if ctx.Err() != nil {
				return res
			}
			if !t.measures(k) {
				continue
			}
			c := r.cell(ctx, k, t, tools[0])
			res.cells[k.title+"\x00"+t.name] = c
			fmt.Fprintf(r.log, "%-48s %-18s %s\n", k.title, t.name, c)
		}
	}
	return res
}
