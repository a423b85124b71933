package scheduler

import (
	"context"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/scheduler/graph"
)

// Stop stops the project's running containers, dependents first.
func (s *Service) Stop(ctx context.Context, project string, opts StopOptions) error {
	l, err := s.lockProject(ctx, project)
	if err != nil {
		return err
	}
	defer l.Unlock()
	cs, err := s.projectContainers(ctx, project, filter{services: opts.Services, runningOnly: true, oneOff: true})
	if err != nil {
		return err
	}
	return s.eachContainer(ctx, cs, nil, graph.Down, func(ctx context.Context, c *engine.Container) error {
		if opts.DryRun {
			s.events.done(containerRes(c.Name), "Stopped")
			return nil
		}
		return s.stopContainer(ctx, c.ID, c.Name, opts.Timeout)
	})
}

// Start starts the project's existing containers, dependencies first,
// each service once its depends_on conditions hold (read from the
// containers' labels, so no project file is needed).
func (s *Service) Start(ctx context.Context, project string, services []string) error {
	l, err := s.lockProject(ctx, project)
	if err != nil {
		return err
	}
	defer l.Unlock()
	all, err := s.projectContainers(ctx, project, filter{})
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("no containers to start for project %q: %w", project, errdefs.ErrNotFound)
	}
	return s.startInOrder(ctx, all, services)
}

// startInOrder starts the stopped ones of cs (one project's containers)
// service by service in dependency order, each once its depends_on
// conditions on the services among cs hold; services limits it to those.
func (s *Service) startInOrder(ctx context.Context, cs []*engine.Container, services []string) error {
	g, by, err := containerGraph(cs, nil)
	if err != nil {
		return err
	}
	ids := func(svc string) []string {
		var out []string
		for _, c := range by[svc] {
			out = append(out, c.ID)
		}
		return out
	}
	return graph.Walk(ctx, g, graph.Up, s.parallel, func(ctx context.Context, svc string) error {
		if len(services) > 0 && !contains(services, svc) {
			return nil
		}
		var todo []*engine.Container
		for _, c := range by[svc] {
			if !running(c) {
				todo = append(todo, c)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		if err := s.waitLabelDependencies(ctx, svc, todo[0], by, ids); err != nil {
			return err
		}
		for _, c := range todo {
			if err := s.startContainer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitLabelDependencies waits for the depends_on conditions recorded in
// c's label ("db:service_healthy:false,…").
func (s *Service) waitLabelDependencies(ctx context.Context, svc string, c *engine.Container, by map[string][]*engine.Container, ids func(string) []string) error {
	deps := types.DependsOnConfig{}
	for _, d := range strings.Split(c.Spec.Labels[compose.LabelDependsOn], ",") {
		parts := strings.Split(d, ":")
		if len(parts) < 2 || parts[0] == "" {
			continue
		}
		if _, ok := by[parts[0]]; !ok {
			continue
		}
		deps[parts[0]] = types.ServiceDependency{Condition: parts[1], Required: true,
			Restart: len(parts) > 2 && parts[2] == "true"}
	}
	p := &types.Project{Services: types.Services{}}
	for name := range by {
		p.Services[name] = types.ServiceConfig{Name: name}
	}
	return s.waitDependencies(ctx, p, types.ServiceConfig{Name: svc, DependsOn: deps}, ids)
}

func (s *Service) startContainer(ctx context.Context, c *engine.Container) error {
	res := containerRes(c.Name)
	s.events.working(res, "Starting")
	if err := s.engine.Start(ctx, c.ID); err != nil {
		err = fmt.Errorf("start container %s: %w", c.Name, err)
		s.events.fail(res, err)
		return err
	}
	s.events.done(res, "Started")
	return nil
}

// Restart stops then starts the project's containers (all of them, or
// the named services'). As docker compose, the services that depend on a
// named one with `restart: true` are restarted with it, unless NoDeps.
func (s *Service) Restart(ctx context.Context, project string, opts StopOptions) error {
	if len(opts.Services) > 0 && !opts.NoDeps {
		all, err := s.projectContainers(ctx, project, filter{})
		if err != nil {
			return err
		}
		opts.Services = withRestartDependents(all, opts.Services)
	}
	if err := s.Stop(ctx, project, opts); err != nil {
		return err
	}
	if opts.DryRun {
		return nil
	}
	return s.Start(ctx, project, opts.Services)
}

// Kill sends a signal (default SIGKILL) to the running containers.
func (s *Service) Kill(ctx context.Context, project string, opts KillOptions) error {
	sig := opts.Signal
	if sig == "" {
		sig = "SIGKILL"
	}
	cs, err := s.projectContainers(ctx, project, filter{services: opts.Services, runningOnly: true})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("no container to kill: %w", errdefs.ErrNotFound)
	}
	return s.eachContainer(ctx, cs, nil, graph.Down, func(ctx context.Context, c *engine.Container) error {
		res := containerRes(c.Name)
		s.events.working(res, "Killing")
		if opts.DryRun {
			s.events.done(res, "Killed")
			return nil
		}
		if err := s.engine.Kill(ctx, c.ID, sig); err != nil && !errdefs.IsNotFound(err) {
			err = fmt.Errorf("kill container %s: %w", c.Name, err)
			s.events.fail(res, err)
			return err
		}
		s.events.done(res, "Killed")
		return nil
	})
}

// Pause freezes the running containers; Unpause thaws them.
func (s *Service) Pause(ctx context.Context, project string, services []string) error {
	return s.pauseOrUnpause(ctx, project, services, true)
}

// Unpause thaws paused containers.
func (s *Service) Unpause(ctx context.Context, project string, services []string) error {
	return s.pauseOrUnpause(ctx, project, services, false)
}

func (s *Service) pauseOrUnpause(ctx context.Context, project string, services []string, pause bool) error {
	cs, err := s.projectContainers(ctx, project, filter{services: services, runningOnly: true})
	if err != nil {
		return err
	}
	for _, c := range cs {
		res := containerRes(c.Name)
		if pause {
			if c.State.Paused {
				continue
			}
			s.events.working(res, "Pausing")
			err = s.engine.Pause(ctx, c.ID)
		} else {
			if !c.State.Paused {
				continue
			}
			s.events.working(res, "Unpausing")
			err = s.engine.Unpause(ctx, c.ID)
		}
		if err != nil {
			s.events.fail(res, err)
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
		if pause {
			s.events.done(res, "Paused")
		} else {
			s.events.done(res, "Unpaused")
		}
	}
	return nil
}

// Removable lists the stopped containers rm would remove (the CLI asks
// for confirmation with them).
func (s *Service) Removable(ctx context.Context, project string, opts RemoveOptions) ([]string, error) {
	cs, err := s.projectContainers(ctx, project, filter{services: opts.Services})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range cs {
		if opts.Stop || !running(c) {
			names = append(names, c.Name)
		}
	}
	return names, nil
}

// Rm removes stopped containers (running ones too with Stop, after
// stopping them).
func (s *Service) Rm(ctx context.Context, project string, opts RemoveOptions) error {
	l, err := s.lockProject(ctx, project)
	if err != nil {
		return err
	}
	defer l.Unlock()
	cs, err := s.projectContainers(ctx, project, filter{services: opts.Services})
	if err != nil {
		return err
	}
	var todo []*engine.Container
	for _, c := range cs {
		if opts.Stop || !running(c) {
			todo = append(todo, c)
		}
	}
	if len(todo) == 0 {
		s.events.warn("", "No stopped containers")
		return nil
	}
	return s.eachContainer(ctx, todo, nil, graph.Down, func(ctx context.Context, c *engine.Container) error {
		if opts.DryRun {
			s.events.done(containerRes(c.Name), "Removed")
			return nil
		}
		return s.stopAndRemove(ctx, c.ID, c.Name, nil, opts.Volumes, true)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// withRestartDependents adds to services, transitively, the services of cs
// whose depends_on label names one of them with restart true
// ("db:service_healthy:true").
func withRestartDependents(cs []*engine.Container, services []string) []string {
	out := append([]string(nil), services...)
	for changed := true; changed; {
		changed = false
		for _, c := range cs {
			svc := c.Spec.Labels[compose.LabelService]
			if contains(out, svc) {
				continue
			}
			for _, d := range strings.Split(c.Spec.Labels[compose.LabelDependsOn], ",") {
				parts := strings.Split(d, ":")
				if len(parts) == 3 && parts[2] == "true" && contains(out, parts[0]) {
					out = append(out, svc)
					changed = true
					break
				}
			}
		}
	}
	return out
}
