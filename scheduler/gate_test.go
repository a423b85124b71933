package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestChainHeights(t *testing.T) {
	dep := func(names ...string) types.DependsOnConfig {
		d := types.DependsOnConfig{}
		for _, n := range names {
			d[n] = types.ServiceDependency{Condition: "service_started", Required: true}
		}
		return d
	}
	p := &types.Project{Services: types.Services{
		"c1": {Name: "c1"}, "c2": {Name: "c2", DependsOn: dep("c1")}, "c3": {Name: "c3", DependsOn: dep("c2")},
		"w": {Name: "w"}, "web": {Name: "web", DependsOn: dep("c1", "w")},
	}}
	got := chainHeights(p)
	for s, want := range map[string]int{"c1": 2, "c2": 1, "c3": 0, "w": 1, "web": 0} {
		if got[s] != want {
			t.Errorf("height(%s) = %d, want %d", s, got[s], want)
		}
	}
}

// TestStartGate: at most the slots run at once; waiting starts are let in
// by priority, then arrival; a cancelled wait leaves its place.
func TestStartGate(t *testing.T) {
	g := newStartGate(1)
	ctx := context.Background()
	if err := g.acquire(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	queued := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g.mu.Lock()
			l := g.q.Len()
			g.mu.Unlock()
			if l == n || time.Now().After(deadline) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i, prio := range []int{0, 5, 1, 5} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.acquire(ctx, prio); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			g.release()
		}()
		queued(i + 1)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error)
	go func() { cancelled <- g.acquire(cctx, 9) }()
	queued(5)
	cancel()
	if err := <-cancelled; err == nil {
		t.Fatal("a cancelled wait got a slot")
	}
	g.release()
	wg.Wait()
	if want := []int{1, 3, 2, 0}; len(order) != 4 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] || order[3] != want[3] {
		t.Fatalf("order %v, want %v", order, want)
	}
	if g.free != 1 {
		t.Fatalf("free slots after all released: %d", g.free)
	}
}
