package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
)

// Up converges the project: it resolves images (pulling what is missing),
// observes what exists, plans, and executes the plan — networks and
// volumes, then services in dependency order, every service whose
// dependencies are satisfied at once. With Start.Wait it then waits for
// every service to be running or healthy; with Start.Attach it streams
// the containers' output until they exit or ctx is cancelled (then stops
// them, gracefully unless Start.Kill is closed).
//
// The project lock is held while converging (not while waiting or
// attached), so two ups of one project run one after the other.
func (s *Service) Up(ctx context.Context, p *types.Project, opts UpOptions) error {
	started := time.Now()
	x, err := s.converge(ctx, p, opts.Create, opts.Start.NoStart, opts.Create.Services)
	if err != nil || x == nil {
		return err
	}
	if opts.Start.NoStart {
		return nil
	}
	if opts.Start.Attach != nil {
		return s.attach(ctx, p, x, opts.Start, started)
	}
	if opts.Start.Wait {
		return s.wait(ctx, p, x.containers, opts.Start.WaitTimeout)
	}
	return nil
}

// Create is up --no-start.
func (s *Service) Create(ctx context.Context, p *types.Project, opts CreateOptions) error {
	_, err := s.converge(ctx, p, opts, true, opts.Services)
	return err
}

func (s *Service) wait(ctx context.Context, p *types.Project, containers func(string) []string, timeout time.Duration) error {
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := s.waitProject(wctx, p, containers)
	if err != nil && errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("application not healthy after %s", timeout)
	}
	return err
}

// converge runs observe → plan → execute under the project lock and
// returns the execution (nil in a dry run).
func (s *Service) converge(ctx context.Context, p *types.Project, opts CreateOptions, noStart bool, named []string) (*execution, error) {
	if err := checkContainerNames(p); err != nil {
		return nil, err
	}
	if !opts.DryRun {
		l, err := s.lockProject(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		defer l.Unlock()
		s.sweep(ctx)
	}
	images, err := s.ensureImages(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	obs, err := s.observe(ctx, p.Name, true)
	if err != nil {
		return nil, err
	}
	if !opts.DryRun && s.sweepIfNeeded(ctx, obs.containers) {
		if obs, err = s.observe(ctx, p.Name, true); err != nil {
			return nil, err
		}
	}
	hashes := make(map[string]string, len(p.Services))
	for name, svc := range p.Services {
		if hashes[name], err = compose.ServiceHash(svc); err != nil {
			return nil, fmt.Errorf("service %q: %w", name, err)
		}
	}
	recreateVolumes, err := s.confirmDivergedVolumes(ctx, p, obs.Observed, opts)
	if err != nil {
		return nil, err
	}
	plan, err := MakePlan(Desired{Project: p, Hashes: hashes, ImageIDs: images.IDs()}, obs.Observed, PlanOptions{
		Services:             named,
		Recreate:             opts.Recreate,
		RecreateDependencies: opts.RecreateDependencies,
		RemoveOrphans:        opts.RemoveOrphans,
		NoStart:              noStart,
		RecreateVolumes:      recreateVolumes,
	})
	if err != nil {
		return nil, err
	}
	if len(plan.OrphanNames) > 0 && !opts.RemoveOrphans && !opts.IgnoreOrphans {
		s.events.warn("", fmt.Sprintf("Found orphan containers (%s) for this project. If you removed or renamed this service "+
			"in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
			strings.Join(plan.OrphanNames, ", ")))
	}
	if opts.DryRun {
		s.reportPlan(plan)
		return nil, nil
	}
	x := newExecution(s, p, plan, obs, images, hashes)
	x.timeout = opts.Timeout
	x.renewAnon = opts.RenewAnonVolumes
	x.noStart = noStart
	if err := x.run(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// reportPlan emits the plan as events (up --dry-run): one line per
// operation, with its cause.
func (s *Service) reportPlan(plan *Plan) {
	for _, op := range plan.Ops() {
		var res, status string
		switch op.Kind {
		case OpCreateNetwork:
			res, status = networkRes(op.Name), "Created"
		case OpCreateVolume:
			res, status = volumeRes(op.Name), "Created"
		case OpRecreateNetwork:
			res, status = networkRes(op.Name), "Recreated"
		case OpRecreateVolume:
			res, status = volumeRes(op.Name), "Recreated"
		case OpCreateContainer:
			res, status = containerRes(op.Name), "Created"
		case OpRecreateContainer:
			res, status = containerRes(op.Name), "Recreated"
		case OpStartContainer:
			res, status = containerRes(op.Name), "Started"
		case OpStopContainer:
			res, status = containerRes(op.Name), "Stopped"
		case OpRemoveContainer:
			res, status = containerRes(op.Name), "Removed"
		case OpKeep:
			res, status = containerRes(op.Name), "Running"
		}
		s.events.doneText(res, status, op.Cause)
	}
}

// confirmDivergedVolumes returns the volumes whose configuration changed
// that are to be recreated: all of them with AssumeYes, else those the user
// agrees to when asked, with docker compose's question (no Confirm, or a
// dry run: none, with a warning naming the -y flag).
func (s *Service) confirmDivergedVolumes(ctx context.Context, p *types.Project, obs *Observed, opts CreateOptions) ([]string, error) {
	var out []string
	for _, name := range DivergedVolumes(p, obs) {
		if opts.AssumeYes {
			out = append(out, name)
			continue
		}
		if opts.Confirm == nil || opts.DryRun {
			s.events.warn("", fmt.Sprintf("volume %q exists but doesn't match configuration in compose file; "+
				"run up with -y to recreate it (data will be lost)", name))
			continue
		}
		ok, err := opts.Confirm(ctx, fmt.Sprintf("Volume %q exists but doesn't match configuration in compose file. Recreate (data will be lost)?", name))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, name)
		}
	}
	return out, nil
}

// checkContainerNames rejects container_name on a scaled service and two
// services with the same container_name, as docker compose does.
func checkContainerNames(p *types.Project) error {
	seen := map[string]string{}
	for _, name := range sortedKeys(p.Services) {
		svc := p.Services[name]
		if svc.ContainerName == "" {
			continue
		}
		if svc.GetScale() > 1 {
			return fmt.Errorf("services.%s: can't set container_name and %s as container name must be unique: %w",
				name, name, errdefs.ErrInvalidArgument)
		}
		if other, ok := seen[svc.ContainerName]; ok {
			return fmt.Errorf("services.%s: container name %q is already in use by service %s: %w",
				name, svc.ContainerName, other, errdefs.ErrInvalidArgument)
		}
		seen[svc.ContainerName] = name
	}
	return nil
}
