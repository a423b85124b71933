package scheduler

import (
	"context"
	"errors"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// Boot starts cs, what a reboot stopped and the restart policies bring
// back (engine.Engine.BootStarts: "always", and "unless-stopped" unless a
// user stopped it), as docker's daemon does when it starts with the
// machine. Each project's containers start in depends_on order (conditions
// read from their labels, among cs), projects side by side; one project's
// failure does not keep the others down.
func (s *Service) Boot(ctx context.Context, cs []*engine.Container) error {
	// What the last boot left (cgroups, network devices, stale names) goes
	// first.
	s.sweep(ctx)
	byProject := map[string][]*engine.Container{}
	for _, c := range cs {
		p := c.Spec.Labels[compose.LabelProject]
		byProject[p] = append(byProject[p], c)
	}
	projects := make([]string, 0, len(byProject))
	for p := range byProject {
		projects = append(projects, p)
	}
	sort.Strings(projects)
	errs := make([]error, len(projects))
	var eg errgroup.Group
	for i, p := range projects {
		eg.Go(func() error {
			errs[i] = s.bootProject(ctx, p, byProject[p])
			return nil
		})
	}
	_ = eg.Wait()
	return errors.Join(errs...)
}

func (s *Service) bootProject(ctx context.Context, project string, cs []*engine.Container) error {
	if project == "" {
		// Not compose's: no order to keep.
		var errs []error
		for _, c := range cs {
			errs = append(errs, s.startContainer(ctx, c))
		}
		return errors.Join(errs...)
	}
	l, err := s.lockProject(ctx, project)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return s.startInOrder(ctx, cs, nil)
}
