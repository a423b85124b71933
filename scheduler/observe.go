package scheduler

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/engine"
)

// observed is Observed plus the engine's view of each container, for the
// executor (which needs specs and states the planner does not).
type observed struct {
	*Observed
	containers map[string]*engine.Container // by ID
}

// observe reads what exists of project with one List per kind of object,
// concurrently. Networks and volumes are only read when the managers are
// configured and withResources is set.
func (s *Service) observe(ctx context.Context, project string, withResources bool) (*observed, error) {
	o := &observed{
		Observed: &Observed{Project: project, Networks: map[string]ObservedNetwork{},
			Volumes: map[string]ObservedVolume{}},
		containers: map[string]*engine.Container{},
	}
	labels := projectLabels(project)
	var eg errgroup.Group
	var ctrs []*engine.Container
	eg.Go(func() error {
		var err error
		ctrs, err = s.engine.List(ctx, engine.ListOptions{All: true, Labels: labels})
		if err != nil {
			return fmt.Errorf("list containers of project %q: %w", project, err)
		}
		return nil
	})
	if withResources && s.networks != nil {
		eg.Go(func() error {
			nets, err := s.networks.List(ctx, labels)
			if err != nil {
				return fmt.Errorf("list networks of project %q: %w", project, err)
			}
			for _, n := range nets {
				o.Networks[n.Name] = ObservedNetwork{Name: n.Name, ID: n.ID, Labels: n.Labels}
			}
			return nil
		})
	}
	if withResources && s.volumes != nil {
		eg.Go(func() error {
			vols, err := s.volumes.List(ctx, labels)
			if err != nil {
				return fmt.Errorf("list volumes of project %q: %w", project, err)
			}
			for _, v := range vols {
				o.Volumes[v.Name] = ObservedVolume{Name: v.Name, Labels: v.Labels}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	for _, c := range ctrs {
		o.containers[c.ID] = c
		o.Containers = append(o.Containers, observedFromContainer(c))
	}
	return o, nil
}
