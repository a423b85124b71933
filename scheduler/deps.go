package scheduler

import (
	"context"
	"fmt"

	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/engine"
)

// conditionRunningOrHealthy is what --wait waits for: healthy when the
// container has a healthcheck, running otherwise.
const conditionRunningOrHealthy = "running_or_healthy"

// waitDependencies waits until every depends_on condition of svc holds.
// containers returns a dependency's current container IDs. Failures use
// docker compose's wording ("dependency failed to start: container
// app-db-1 is unhealthy"); optional dependencies (required: false) only
// warn.
func (s *Service) waitDependencies(ctx context.Context, p *types.Project, svc types.ServiceConfig, containers func(string) []string) error {
	eg, ctx := errgroup.WithContext(ctx)
	for _, dep := range sortedKeys(svc.DependsOn) {
		cfg := svc.DependsOn[dep]
		if cfg.Condition == types.ServiceConditionStarted || cfg.Condition == "" {
			continue // the walk already started it
		}
		ds, ok := p.Services[dep]
		if !ok || ds.GetScale() == 0 {
			continue // not part of this run (--no-deps), or scaled to zero
		}
		ids := containers(dep)
		if len(ids) == 0 {
			if cfg.Required {
				return fmt.Errorf("%s is missing dependency %s", svc.Name, dep)
			}
			s.events.warn("", fmt.Sprintf("%s is missing dependency %s", svc.Name, dep))
			continue
		}
		eg.Go(func() error {
			err := s.waitCondition(ctx, dep, cfg.Condition, ids)
			if err == nil || !cfg.Required || isCanceled(err) {
				if err != nil && !isCanceled(err) {
					s.events.warn("", fmt.Sprintf("optional dependency %q failed to start: %v", dep, err))
				}
				if isCanceled(err) {
					return err
				}
				return nil
			}
			if cfg.Condition == types.ServiceConditionHealthy {
				return fmt.Errorf("dependency failed to start: %w", err)
			}
			return err
		})
	}
	return eg.Wait()
}

// waitCondition waits until condition holds for every container of service.
func (s *Service) waitCondition(ctx context.Context, service, condition string, ids []string) error {
	eg, ctx := errgroup.WithContext(ctx)
	for _, id := range ids {
		eg.Go(func() error {
			var cond func(*engine.Container) (bool, error)
			waiting := false
			switch condition {
			case types.ServiceConditionHealthy:
				cond = func(c *engine.Container) (bool, error) { return healthy(c, false) }
			case conditionRunningOrHealthy:
				cond = func(c *engine.Container) (bool, error) { return healthy(c, true) }
			case types.ServiceConditionCompletedSuccessfully:
				cond = func(c *engine.Container) (bool, error) { return completed(service, c) }
			default:
				s.events.warn("", fmt.Sprintf("unsupported depends_on condition: %s", condition))
				return nil
			}
			var name string
			c, err := s.engine.WaitUntil(ctx, id, func(c *engine.Container) (bool, error) {
				name = c.Name
				ok, err := cond(c)
				if !ok && err == nil && !waiting {
					waiting = true
					s.events.working(containerRes(c.Name), "Waiting")
				}
				return ok, err
			})
			if err != nil {
				if name != "" && !isCanceled(err) {
					s.events.fail(containerRes(name), err)
				}
				return err
			}
			switch condition {
			case types.ServiceConditionCompletedSuccessfully:
				s.events.done(containerRes(c.Name), "Exited")
			default:
				if hasHealthcheck(c) {
					s.events.done(containerRes(c.Name), "Healthy")
				} else if waiting {
					s.events.done(containerRes(c.Name), "Running")
				}
			}
			return nil
		})
	}
	return eg.Wait()
}

// hasHealthcheck reports whether c runs a healthcheck.
func hasHealthcheck(c *engine.Container) bool {
	if c.State.Health != nil {
		return true
	}
	hc := c.Spec.Healthcheck
	return hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
}

// healthy is the service_healthy condition (running_or_healthy when
// fallbackRunning), with docker compose's errors.
func healthy(c *engine.Container, fallbackRunning bool) (bool, error) {
	switch c.State.Status {
	case engine.StatusExited, engine.StatusDead:
		return false, fmt.Errorf("container %s exited (%d)", c.Name, c.State.ExitCode)
	}
	if !hasHealthcheck(c) {
		if fallbackRunning {
			return c.State.Status == engine.StatusRunning, nil
		}
		return false, fmt.Errorf("container %s has no healthcheck configured", c.Name)
	}
	if c.State.Health == nil {
		return false, nil // the monitor has not reported yet
	}
	switch c.State.Health.Status {
	case engine.HealthHealthy:
		return true, nil
	case engine.HealthUnhealthy:
		return false, fmt.Errorf("container %s is unhealthy", c.Name)
	case engine.HealthStarting, "":
		return false, nil
	}
	return false, fmt.Errorf("container %s had unexpected health status %q", c.Name, c.State.Health.Status)
}

// completed is the service_completed_successfully condition.
func completed(service string, c *engine.Container) (bool, error) {
	switch c.State.Status {
	case engine.StatusExited, engine.StatusDead:
	default:
		return false, nil
	}
	if c.State.ExitCode != 0 {
		return false, fmt.Errorf("service %q didn't complete successfully: exit %d", service, c.State.ExitCode)
	}
	return true, nil
}

// waitProject is --wait: every service of p running or healthy (jobs that
// others depend on with service_completed_successfully: exited 0).
func (s *Service) waitProject(ctx context.Context, p *types.Project, containers func(string) []string) error {
	eg, ctx := errgroup.WithContext(ctx)
	for _, name := range sortedKeys(p.Services) {
		if svc := p.Services[name]; svc.GetScale() == 0 {
			continue
		}
		cond := conditionRunningOrHealthy
		for _, other := range p.Services {
			if d, ok := other.DependsOn[name]; ok && d.Condition == types.ServiceConditionCompletedSuccessfully {
				cond = types.ServiceConditionCompletedSuccessfully
			}
		}
		ids := containers(name)
		eg.Go(func() error { return s.waitCondition(ctx, name, cond, ids) })
	}
	return eg.Wait()
}
