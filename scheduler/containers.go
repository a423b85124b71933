package scheduler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/scheduler/graph"
)

// filter selects a project's containers.
type filter struct {
	services []string
	// oneOff: include `run` containers.
	oneOff bool
	// runningOnly: only containers whose process is up.
	runningOnly bool
}

// projectContainers lists the project's containers (one List), sorted by
// service then number, restricted by f. Naming a service the project has
// no container for is not an error here.
func (s *Service) projectContainers(ctx context.Context, project string, f filter) ([]*engine.Container, error) {
	all, err := s.engine.List(ctx, engine.ListOptions{All: true, Labels: projectLabels(project)})
	if err != nil {
		return nil, fmt.Errorf("list containers of project %q: %w", project, err)
	}
	var out []*engine.Container
	for _, c := range all {
		l := c.Spec.Labels
		if !f.oneOff && l[compose.LabelOneoff] == "True" {
			continue
		}
		if len(f.services) > 0 && !slices.Contains(f.services, l[compose.LabelService]) {
			continue
		}
		if f.runningOnly && !(c.State.Running || c.State.Paused || c.State.Restarting) {
			continue
		}
		out = append(out, c)
	}
	sortContainers(out)
	return out, nil
}

func sortContainers(cs []*engine.Container) {
	sort.SliceStable(cs, func(i, j int) bool {
		li, lj := cs[i].Spec.Labels, cs[j].Spec.Labels
		if li[compose.LabelService] != lj[compose.LabelService] {
			return li[compose.LabelService] < lj[compose.LabelService]
		}
		ni, _ := strconv.Atoi(li[compose.LabelNumber])
		nj, _ := strconv.Atoi(lj[compose.LabelNumber])
		if ni != nj {
			return ni < nj
		}
		return cs[i].Name < cs[j].Name
	})
}

// containerGraph groups containers by service and returns the dependency
// graph between those services, from the project when given and from the
// containers' depends_on labels (so that it works with the project's
// file changed or gone).
func containerGraph(cs []*engine.Container, p *types.Project) (*graph.Graph, map[string][]*engine.Container, error) {
	by := map[string][]*engine.Container{}
	for _, c := range cs {
		svc := c.Spec.Labels[compose.LabelService]
		by[svc] = append(by[svc], c)
	}
	edges := map[string][]graph.Edge{}
	add := func(from, to string) {
		if from == to {
			return
		}
		for _, e := range edges[from] {
			if e.To == to {
				return
			}
		}
		edges[from] = append(edges[from], graph.Edge{To: to, Kind: "depends_on"})
	}
	for svc, group := range by {
		for _, c := range group {
			for _, d := range strings.Split(c.Spec.Labels[compose.LabelDependsOn], ",") {
				if name, _, _ := strings.Cut(d, ":"); name != "" {
					if _, ok := by[name]; ok {
						add(svc, name)
					}
				}
			}
		}
		if p != nil {
			if ps, ok := p.Services[svc]; ok {
				for _, dep := range serviceDeps(p, ps) {
					if _, ok := by[dep]; ok {
						add(svc, dep)
					}
				}
			}
		}
	}
	g, err := graph.New(sortedKeys(by), edges)
	if err != nil {
		return nil, nil, err
	}
	return g, by, nil
}

// eachContainer runs fn on every container, services in dir order over
// their graph, the containers of one service in parallel.
func (s *Service) eachContainer(ctx context.Context, cs []*engine.Container, p *types.Project, dir graph.Direction,
	fn func(context.Context, *engine.Container) error) error {
	if len(cs) == 0 {
		return nil
	}
	g, by, err := containerGraph(cs, p)
	if err != nil {
		return err
	}
	return graph.Walk(ctx, g, dir, s.parallel, func(ctx context.Context, svc string) error {
		eg, ctx := errgroup.WithContext(ctx)
		for _, c := range by[svc] {
			eg.Go(func() error { return fn(ctx, c) })
		}
		return eg.Wait()
	})
}

// serviceContainer returns replica index (1 when 0) of service.
func (s *Service) serviceContainer(ctx context.Context, project, service string, index int) (*engine.Container, error) {
	cs, err := s.projectContainers(ctx, project, filter{services: []string{service}})
	if err != nil {
		return nil, err
	}
	if index == 0 {
		index = 1
	}
	for _, c := range cs {
		if c.Spec.Labels[compose.LabelNumber] == strconv.Itoa(index) {
			return c, nil
		}
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("service %q is not running: %w", service, errdefs.ErrNotFound)
	}
	return nil, fmt.Errorf("service %q has no container number %d: %w", service, index, errdefs.ErrNotFound)
}

func serviceOf(c *engine.Container) string { return c.Spec.Labels[compose.LabelService] }

func running(c *engine.Container) bool {
	return c.State.Running || c.State.Paused || c.State.Restarting
}
