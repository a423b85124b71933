// Package graph is the dependency graph of a project's services, and the one
// walker that visits it in dependency order (Up: dependencies first) or in
// reverse (Down: dependents first) with bounded parallelism.
//
// A Graph is immutable once built and safe for concurrent use. New rejects
// cycles with an error that names one (`a -> b -> c -> a`) and required
// edges to unknown nodes; optional edges (depends_on with required: false)
// to unknown nodes are dropped. The package works on names only: it knows
// compose-go's types only in FromProject, and nothing of containers; health
// waits and the like happen inside the walk function, not in the walker.
package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
)

// Edge is a dependency of a node on node To.
type Edge struct {
	// To is the node depended on.
	To string
	// Required: To must exist. false (depends_on required: false): an edge
	// to an unknown node is dropped.
	Required bool
	// Kind says where the edge comes from: "depends_on", "links",
	// "network_mode", "ipc", "pid" or "volumes_from". Used in messages.
	Kind string
	// Condition is depends_on's condition (service_started,
	// service_healthy, service_completed_successfully); "" for other kinds.
	Condition string
	// Restart is depends_on's restart: restart the node when To is
	// restarted.
	Restart bool
}

// Graph is a directed acyclic graph over node names.
type Graph struct {
	nodes      []string          // sorted
	index      map[string]int    // name → position in nodes
	edges      map[string][]Edge // as given, minus dropped optional edges
	deps       [][]int           // node → nodes it depends on (sorted, unique)
	dependents [][]int           // node → nodes that depend on it (sorted, unique)
}

// New builds the graph of nodes with edges (from a node to what it depends
// on). Errors wrap errdefs.ErrInvalidArgument: a duplicate or empty node
// name, an edge from an unknown node, a required edge to an unknown node
// ("service "web" depends on "db", which is not defined; …"), a cycle
// ("dependency cycle detected: a -> b -> a").
func New(nodes []string, edges map[string][]Edge) (*Graph, error) {
	g := &Graph{
		nodes: slices.Clone(nodes),
		index: make(map[string]int, len(nodes)),
		edges: make(map[string][]Edge, len(edges)),
	}
	slices.Sort(g.nodes)
	for i, n := range g.nodes {
		if n == "" {
			return nil, fmt.Errorf("empty node name: %w", errdefs.ErrInvalidArgument)
		}
		if i > 0 && g.nodes[i-1] == n {
			return nil, fmt.Errorf("node %q is listed twice: %w", n, errdefs.ErrInvalidArgument)
		}
		g.index[n] = i
	}
	g.deps = make([][]int, len(g.nodes))
	g.dependents = make([][]int, len(g.nodes))
	for _, from := range sortedKeys(edges) {
		fi, ok := g.index[from]
		if !ok {
			return nil, fmt.Errorf("edges of %q, which is not a node: %w", from, errdefs.ErrInvalidArgument)
		}
		for _, e := range edges[from] {
			ti, ok := g.index[e.To]
			if !ok {
				if !e.Required {
					continue
				}
				kind := e.Kind
				if kind == "" {
					kind = "depends_on"
				}
				return nil, fmt.Errorf("service %q depends on %q, which is not defined; add it or remove it from %s: %w",
					from, e.To, kind, errdefs.ErrInvalidArgument)
			}
			g.edges[from] = append(g.edges[from], e)
			if !slices.Contains(g.deps[fi], ti) {
				g.deps[fi] = append(g.deps[fi], ti)
				g.dependents[ti] = append(g.dependents[ti], fi)
			}
		}
	}
	for i := range g.nodes {
		slices.Sort(g.deps[i])
		slices.Sort(g.dependents[i])
	}
	if cycle := g.findCycle(); cycle != nil {
		return nil, fmt.Errorf("dependency cycle detected: %s: %w", strings.Join(cycle, " -> "), errdefs.ErrInvalidArgument)
	}
	return g, nil
}

// findCycle returns a cycle as a path whose last node is its first, or nil.
// Nodes and edges are visited in name order, so the cycle reported is
// stable.
func (g *Graph) findCycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(g.nodes))
	var stack []int
	var cycle []string
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range g.deps[i] {
			switch color[d] {
			case grey:
				start := slices.Index(stack, d)
				for _, s := range stack[start:] {
					cycle = append(cycle, g.nodes[s])
				}
				cycle = append(cycle, g.nodes[d])
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range g.nodes {
		if color[i] == white && visit(i) {
			return cycle
		}
	}
	return nil
}

// Nodes returns the node names, sorted.
func (g *Graph) Nodes() []string { return slices.Clone(g.nodes) }

// Len is the number of nodes.
func (g *Graph) Len() int { return len(g.nodes) }

// Has reports whether name is a node.
func (g *Graph) Has(name string) bool {
	_, ok := g.index[name]
	return ok
}

// Edges returns the edges of node (what it depends on), as given to New
// (several edges may point to the same node, e.g. depends_on and links).
func (g *Graph) Edges(node string) []Edge { return slices.Clone(g.edges[node]) }

// Dependencies returns the nodes node depends on directly, sorted.
func (g *Graph) Dependencies(node string) []string {
	i, ok := g.index[node]
	if !ok {
		return nil
	}
	return g.names(g.deps[i])
}

// Dependents returns the nodes that depend on node directly, sorted.
func (g *Graph) Dependents(node string) []string {
	i, ok := g.index[node]
	if !ok {
		return nil
	}
	return g.names(g.dependents[i])
}

// Order returns every node in the order a Walk in dir with limit 1 visits
// them: each node after its prerequisites, otherwise by name.
func (g *Graph) Order(dir Direction) []string {
	pending, next := g.prerequisites(dir)
	var ready, order []int
	for i, p := range pending {
		if p == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, j := range next[i] {
			if pending[j]--; pending[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	return g.names(order)
}

// Sub returns the graph of names and, transitively, their dependencies
// (Up: what must run for them to start) or their dependents (Down: what
// must stop before them). Unknown names are an errdefs.ErrNotFound error.
func (g *Graph) Sub(names []string, dir Direction) (*Graph, error) {
	keep := make([]bool, len(g.nodes))
	var visit func(i int)
	visit = func(i int) {
		if keep[i] {
			return
		}
		keep[i] = true
		next := g.deps[i]
		if dir == Down {
			next = g.dependents[i]
		}
		for _, j := range next {
			visit(j)
		}
	}
	for _, n := range names {
		i, ok := g.index[n]
		if !ok {
			return nil, fmt.Errorf("no such service: %s: %w", n, errdefs.ErrNotFound)
		}
		visit(i)
	}
	var nodes []string
	edges := map[string][]Edge{}
	for i, n := range g.nodes {
		if !keep[i] {
			continue
		}
		nodes = append(nodes, n)
		for _, e := range g.edges[n] {
			if keep[g.index[e.To]] {
				edges[n] = append(edges[n], e)
			}
		}
	}
	return New(nodes, edges)
}

// String renders the graph one node a line, "node -> dep, dep", for tests
// and debugging.
func (g *Graph) String() string {
	var b strings.Builder
	for i, n := range g.nodes {
		b.WriteString(n)
		if len(g.deps[i]) > 0 {
			b.WriteString(" -> ")
			b.WriteString(strings.Join(g.names(g.deps[i]), ", "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// prerequisites returns, for a walk in dir, how many nodes each node waits
// for, and for each node the nodes that wait for it.
func (g *Graph) prerequisites(dir Direction) (pending []int, next [][]int) {
	pending = make([]int, len(g.nodes))
	wait, next := g.deps, g.dependents
	if dir == Down {
		wait, next = g.dependents, g.deps
	}
	for i := range g.nodes {
		pending[i] = len(wait[i])
	}
	return pending, next
}

func (g *Graph) names(idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = g.nodes[i]
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
