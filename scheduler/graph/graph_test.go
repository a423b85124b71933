package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
)

func dep(to string) Edge { return Edge{To: to, Required: true, Kind: "depends_on"} }

// shape builds nodes and edges from "a:b,c b:c c" (node:dependencies).
func shape(spec string) ([]string, map[string][]Edge) {
	var nodes []string
	edges := map[string][]Edge{}
	for _, f := range strings.Fields(spec) {
		name, deps, _ := strings.Cut(f, ":")
		nodes = append(nodes, name)
		for _, d := range strings.Split(deps, ",") {
			if d != "" {
				edges[name] = append(edges[name], dep(d))
			}
		}
	}
	return nodes, edges
}

// big is a deterministic DAG of n nodes, each depending on up to three
// earlier ones.
func big(n int) ([]string, map[string][]Edge) {
	nodes := make([]string, n)
	edges := map[string][]Edge{}
	x := uint32(12345)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("s%03d", i)
		for k := 0; k < 3 && i > 0; k++ {
			x = x*1664525 + 1013904223
			edges[nodes[i]] = append(edges[nodes[i]], dep(nodes[int(x>>8)%i]))
		}
	}
	return nodes, edges
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		extra    map[string][]Edge
		want     string // String()
		up, down string // Order
		err      string
	}{
		{name: "chain", spec: "a:b b:c c", want: "a -> b\nb -> c\nc\n", up: "c b a", down: "a b c"},
		{name: "diamond", spec: "a:b,c b:d c:d d", want: "a -> b, c\nb -> d\nc -> d\nd\n", up: "d b c a", down: "a b c d"},
		{name: "wide fan", spec: "hub f1:hub f2:hub f3:hub", up: "hub f1 f2 f3", down: "f1 f2 f3 hub",
			want: "f1 -> hub\nf2 -> hub\nf3 -> hub\nhub\n"},
		{name: "duplicate edges collapse", spec: "a:b,b b", want: "a -> b\nb\n", up: "b a", down: "a b"},
		{name: "optional edge to unknown node dropped", spec: "a b", extra: map[string][]Edge{"a": {{To: "gone", Required: false}}},
			want: "a\nb\n", up: "a b", down: "a b"},
		{name: "required edge to unknown node", spec: "web:db",
			err: `service "web" depends on "db", which is not defined; add it or remove it from depends_on`},
		{name: "links to unknown node", spec: "web", extra: map[string][]Edge{"web": {{To: "db", Required: true, Kind: "links"}}},
			err: `remove it from links`},
		{name: "self cycle", spec: "a:a", err: "dependency cycle detected: a -> a"},
		{name: "two cycle", spec: "a:b b:a", err: "dependency cycle detected: a -> b -> a"},
		{name: "three cycle named from its entry", spec: "x:a a:b b:c c:a", err: "dependency cycle detected: a -> b -> c -> a"},
		{name: "cycle behind a diamond", spec: "a:b,c b:d c:d d:e e:c", err: "dependency cycle detected: d -> e -> c -> d"},
		{name: "duplicate node", spec: "a a", err: `node "a" is listed twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nodes, edges := shape(tc.spec)
			for k, v := range tc.extra {
				edges[k] = append(edges[k], v...)
			}
			g, err := New(nodes, edges)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want %q (invalid argument)", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := g.String(); got != tc.want {
				t.Errorf("graph:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := strings.Join(g.Order(Up), " "); got != tc.up {
				t.Errorf("up order %q, want %q", got, tc.up)
			}
			if got := strings.Join(g.Order(Down), " "); got != tc.down {
				t.Errorf("down order %q, want %q", got, tc.down)
			}
		})
	}
}

func TestSub(t *testing.T) {
	g, err := New(shape("web:api api:db,cache db cache worker:db"))
	if err != nil {
		t.Fatal(err)
	}
	up, err := g.Sub([]string{"api"}, Up)
	if err != nil || strings.Join(up.Nodes(), " ") != "api cache db" {
		t.Errorf("Sub up = %v %v", up, err)
	}
	down, err := g.Sub([]string{"db"}, Down)
	if err != nil || strings.Join(down.Nodes(), " ") != "api db web worker" {
		t.Errorf("Sub down = %v %v", down, err)
	}
	if _, err := g.Sub([]string{"nosuch"}, Up); !errdefs.IsNotFound(err) {
		t.Errorf("unknown: %v", err)
	}
	if got := strings.Join(g.Dependents("db"), " "); got != "api worker" {
		t.Errorf("Dependents(db) = %q", got)
	}
}

// recorder checks, during a walk, that every node runs once and only after
// its prerequisites have finished, and tracks the concurrency.
type recorder struct {
	t        *testing.T
	g        *Graph
	dir      Direction
	mu       sync.Mutex
	finished map[string]bool
	running  int
	max      int
	order    []string
}

func (r *recorder) visit(ctx context.Context, node string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.finished[node]; seen {
		r.t.Errorf("%s visited twice", node)
	}
	pre := r.g.Dependencies(node)
	if r.dir == Down {
		pre = r.g.Dependents(node)
	}
	for _, p := range pre {
		if !r.finished[p] {
			r.t.Errorf("%s started before %s finished (%s)", node, p, r.dir)
		}
	}
	r.finished[node] = false
	r.running++
	r.max = max(r.max, r.running)
	r.mu.Unlock()
	// let other goroutines interleave
	for range 10 {
		if ctx.Err() != nil {
			break
		}
	}
	r.mu.Lock()
	r.running--
	r.finished[node] = true
	r.order = append(r.order, node)
	return nil
}

func TestWalkShapes(t *testing.T) {
	shapes := map[string]func() ([]string, map[string][]Edge){
		"chain":   func() ([]string, map[string][]Edge) { return shape("a:b b:c c:d d") },
		"diamond": func() ([]string, map[string][]Edge) { return shape("a:b,c b:d c:d d") },
		"wide fan": func() ([]string, map[string][]Edge) {
			nodes, edges := []string{"hub"}, map[string][]Edge{}
			for i := range 100 {
				n := fmt.Sprintf("leaf%02d", i)
				nodes = append(nodes, n)
				edges[n] = []Edge{dep("hub")}
			}
			return nodes, edges
		},
		"500 services": func() ([]string, map[string][]Edge) { return big(500) },
		"optional edge": func() ([]string, map[string][]Edge) {
			return []string{"a", "b"}, map[string][]Edge{"a": {{To: "b"}, {To: "absent"}}}
		},
		"empty": func() ([]string, map[string][]Edge) { return nil, nil },
	}
	for name, mk := range shapes {
		for _, dir := range []Direction{Up, Down} {
			for _, limit := range []int{0, 1, 4} {
				t.Run(fmt.Sprintf("%s/%s/limit%d", name, dir, limit), func(t *testing.T) {
					g, err := New(mk())
					if err != nil {
						t.Fatal(err)
					}
					r := &recorder{t: t, g: g, dir: dir, finished: map[string]bool{}}
					if err := Walk(context.Background(), g, dir, limit, r.visit); err != nil {
						t.Fatal(err)
					}
					if len(r.order) != g.Len() {
						t.Errorf("visited %d of %d nodes", len(r.order), g.Len())
					}
					if limit > 0 && r.max > limit {
						t.Errorf("%d calls ran at once, limit %d", r.max, limit)
					}
					if limit == 1 && strings.Join(r.order, " ") != strings.Join(g.Order(dir), " ") {
						t.Errorf("limit 1 order %v, want %v", r.order, g.Order(dir))
					}
				})
			}
		}
	}
}

// TestWalkLimitReached: with limit 3 on a fan of independent nodes, three
// calls do run at once, never four.
func TestWalkLimitReached(t *testing.T) {
	nodes := make([]string, 12)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%02d", i)
	}
	g, err := New(nodes, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	running, peak, calls := 0, 0, 0
	err = Walk(context.Background(), g, Up, 3, func(ctx context.Context, node string) error {
		mu.Lock()
		defer mu.Unlock()
		running++
		calls++
		peak = max(peak, running)
		cond.Broadcast()
		// the first three wait for each other: they can only all be here
		// if the walker runs three at once
		for calls <= 3 && running < 3 {
			cond.Wait()
		}
		running--
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if peak != 3 {
		t.Errorf("peak concurrency %d, want 3", peak)
	}
}

func TestWalkStopsOnFirstError(t *testing.T) {
	boom := errors.New("boom")
	t.Run("dependents of a failed node never run", func(t *testing.T) {
		g, err := New(shape("web:api api:db db other"))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var visited []string
		err = Walk(context.Background(), g, Up, 0, func(ctx context.Context, node string) error {
			mu.Lock()
			visited = append(visited, node)
			mu.Unlock()
			if node == "api" {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		for _, v := range visited {
			if v == "web" {
				t.Errorf("web ran after api failed: %v", visited)
			}
		}
	})
	t.Run("no new node is scheduled", func(t *testing.T) {
		nodes, _ := big(50)
		g, err := New(nodes, nil)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		err = Walk(context.Background(), g, Down, 1, func(ctx context.Context, node string) error {
			calls++
			return boom
		})
		if !errors.Is(err, boom) || calls != 1 {
			t.Errorf("err = %v after %d calls, want boom after 1", err, calls)
		}
	})
}

func TestWalkCancel(t *testing.T) {
	g, err := New(shape("c:b b:a a slow"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var visited []string
	err = Walk(ctx, g, Up, 0, func(ctx context.Context, node string) error {
		mu.Lock()
		visited = append(visited, node)
		mu.Unlock()
		if node == "a" {
			cancel()
			<-ctx.Done() // the walk's context is cancelled too
			return nil
		}
		if node == "slow" {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for _, v := range visited {
		if v == "b" || v == "c" {
			t.Errorf("%s started after cancellation: %v", v, visited)
		}
	}
	// An already cancelled context starts nothing.
	calls := 0
	err = Walk(ctx, g, Up, 0, func(context.Context, string) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("cancelled ctx: err %v, %d calls", err, calls)
	}
}

func TestFromProject(t *testing.T) {
	p := &types.Project{Services: types.Services{
		"web": {Name: "web",
			DependsOn: types.DependsOnConfig{
				"api":   {Condition: types.ServiceConditionHealthy, Required: true, Restart: true},
				"debug": {Condition: types.ServiceConditionStarted, Required: false},
			},
			Links: []string{"cache:redis"}},
		"api":      {Name: "api", NetworkMode: "service:net", VolumesFrom: []string{"data:ro", "container:foreign"}},
		"net":      {Name: "net", Ipc: "service:ipcsrc", Pid: "host"},
		"ipcsrc":   {Name: "ipcsrc", Pid: "service:pidsrc"},
		"pidsrc":   {Name: "pidsrc"},
		"data":     {Name: "data"},
		"cache":    {Name: "cache"},
		"unlinked": {Name: "unlinked", NetworkMode: "host"},
	}}
	g, err := FromProject(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "api -> data, net\ncache\ndata\nipcsrc -> pidsrc\nnet -> ipcsrc\npidsrc\nunlinked\nweb -> api, cache\n"
	if got := g.String(); got != want {
		t.Errorf("graph:\n%s\nwant:\n%s", got, want)
	}
	e := g.Edges("web")
	if len(e) != 2 || e[0] != (Edge{To: "api", Required: true, Kind: "depends_on", Condition: types.ServiceConditionHealthy, Restart: true}) ||
		e[1].Kind != "links" || e[1].To != "cache" {
		t.Errorf("web edges: %+v", e)
	}

	p.Services["loop"] = types.ServiceConfig{Name: "loop", NetworkMode: "service:loop2"}
	p.Services["loop2"] = types.ServiceConfig{Name: "loop2", VolumesFrom: []string{"loop"}}
	if _, err := FromProject(p); err == nil || !strings.Contains(err.Error(), "loop -> loop2 -> loop") {
		t.Errorf("cycle through network_mode and volumes_from: %v", err)
	}
}

func BenchmarkWalk500(b *testing.B) {
	g, err := New(big(500))
	if err != nil {
		b.Fatal(err)
	}
	for _, limit := range []int{0, 8} {
		b.Run(fmt.Sprintf("limit%d", limit), func(b *testing.B) {
			for b.Loop() {
				if err := Walk(context.Background(), g, Up, limit, func(context.Context, string) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNew500(b *testing.B) {
	nodes, edges := big(500)
	for b.Loop() {
		if _, err := New(nodes, edges); err != nil {
			b.Fatal(err)
		}
	}
}
