package scheduler

import (
	"container/heap"
	"context"
	"runtime"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
)

// startGate bounds how many container starts run at once and lets the
// waiting start with the longest chain of dependents behind it go first.
//
// A container start is CPU work (two processes start, namespaces, mounts,
// network) far more than waiting. Started all at once, 30 independent
// services and the head of a depends_on chain share two cores, so the
// chain's head is running only when all 31 are, and its dependents follow
// one by one after that. With a few starts at a time and the chain's head
// first, the chain advances while the other starts fill the cores.
type startGate struct {
	mu   sync.Mutex
	free int
	seq  int
	q    waitQueue
}

func newStartGate(slots int) *startGate { return &startGate{free: slots} }

// startSlots is how many starts run at once: twice the cores, at least 4
// (a start also waits: for its processes to exec, for the kernel).
func startSlots() int { return max(4, 2*runtime.NumCPU()) }

// acquire waits for a slot; prio orders the waiting starts (higher first,
// then in arrival order).
func (g *startGate) acquire(ctx context.Context, prio int) error {
	g.mu.Lock()
	if g.free > 0 && g.q.Len() == 0 {
		g.free--
		g.mu.Unlock()
		return nil
	}
	w := &waiter{prio: prio, seq: g.seq, ready: make(chan struct{})}
	g.seq++
	heap.Push(&g.q, w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-w.ready:
			// Granted meanwhile: hand the slot on.
			g.releaseLocked()
		default:
			heap.Remove(&g.q, w.index)
		}
		return ctx.Err()
	}
}

// release frees a slot, giving it to the first waiting start.
func (g *startGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked()
}

func (g *startGate) releaseLocked() {
	if g.q.Len() == 0 {
		g.free++
		return
	}
	w := heap.Pop(&g.q).(*waiter)
	close(w.ready)
}

type waiter struct {
	prio, seq, index int
	ready            chan struct{}
}

// waitQueue is a heap of waiters: highest prio first, then lowest seq.
type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }
func (q waitQueue) Less(i, j int) bool {
	if q[i].prio != q[j].prio {
		return q[i].prio > q[j].prio
	}
	return q[i].seq < q[j].seq
}
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	*q = old[:len(old)-1]
	return w
}

// chainHeights gives each service of p the length of the longest chain of
// services that depend on it, directly or not (0: nothing depends on it):
// the start priority.
func chainHeights(p *types.Project) map[string]int {
	dependents := map[string][]string{}
	for name, svc := range p.Services {
		for dep := range svc.DependsOn {
			dependents[dep] = append(dependents[dep], name)
		}
	}
	h := map[string]int{}
	var height func(string, map[string]bool) int
	height = func(s string, seen map[string]bool) int {
		if v, ok := h[s]; ok {
			return v
		}
		if seen[s] {
			return 0 // a cycle: the graph reports it elsewhere
		}
		seen[s] = true
		best := 0
		for _, d := range dependents[s] {
			best = max(best, 1+height(d, seen))
		}
		h[s] = best
		return best
	}
	for name := range p.Services {
		height(name, map[string]bool{})
	}
	return h
}
