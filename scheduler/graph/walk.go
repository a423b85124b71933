package graph

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"
)

// Direction is the order of a walk.
type Direction int

const (
	// Up visits a node after every node it depends on (start order).
	Up Direction = iota
	// Down visits a node after every node that depends on it (stop order).
	Down
)

// String is "up" or "down".
func (d Direction) String() string {
	if d == Down {
		return "down"
	}
	return "up"
}

// Walk calls fn once for every node of g, in direction dir: a node's call
// starts once the calls of all its prerequisites (Up: its dependencies;
// Down: its dependents) have returned nil. At most limit calls run at once
// (limit <= 0: no limit); ready nodes start in name order.
//
// On the first error, or when ctx is cancelled, no further call starts, the
// context passed to the running calls is cancelled, and Walk returns that
// error (or ctx's) once they have returned. Nodes whose prerequisites
// failed are never visited.
func Walk(ctx context.Context, g *Graph, dir Direction, limit int, fn func(ctx context.Context, node string) error) error {
	if g == nil || len(g.nodes) == 0 {
		return ctx.Err()
	}
	if dir != Up && dir != Down {
		return fmt.Errorf("walk direction %d: %w", dir, errdefs.ErrInvalidArgument)
	}
	pending, next := g.prerequisites(dir)
	eg, gctx := errgroup.WithContext(ctx)
	if limit > 0 {
		eg.SetLimit(limit)
	}
	// Buffered for every node: a worker never blocks on it, so the loop
	// below may block in eg.Go (limit reached) without deadlock.
	done := make(chan int, len(g.nodes))
	var ready []int
	for i, p := range pending {
		if p == 0 {
			ready = append(ready, i)
		}
	}
	finished := 0
loop:
	for finished < len(g.nodes) {
		for len(ready) > 0 {
			if gctx.Err() != nil {
				break loop
			}
			i := ready[0]
			ready = ready[1:]
			eg.Go(func() error {
				// eg.Go may have waited for a slot: do not start once the
				// walk is being torn down.
				if gctx.Err() != nil {
					return nil
				}
				if err := fn(gctx, g.nodes[i]); err != nil {
					return err
				}
				done <- i
				return nil
			})
		}
		select {
		case i := <-done:
			finished++
			for _, j := range next[i] {
				if pending[j]--; pending[j] == 0 {
					ready = append(ready, j)
				}
			}
		case <-gctx.Done():
			break loop
		}
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if finished == len(g.nodes) {
		return nil
	}
	return ctx.Err()
}
