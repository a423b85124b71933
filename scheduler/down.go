package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/scheduler/graph"
)

// Down stops and removes the project's containers (dependents first, in
// parallel where the graph allows), then its networks, and with
// opts.Volumes its volumes (never external ones: those carry no project
// label), and with opts.Images its images. It works from what exists
// (labels), so the compose file may have changed or be gone; opts.Project
// only adds ordering and the orphan distinction.
func (s *Service) Down(ctx context.Context, project string, opts DownOptions) error {
	if !opts.DryRun {
		l, err := s.lockProject(ctx, project)
		if err != nil {
			return err
		}
		defer l.Unlock()
		s.sweep(ctx)
	}
	all, err := s.projectContainers(ctx, project, filter{services: opts.Services, oneOff: true})
	if err != nil {
		return err
	}
	var cs, orphans []*engine.Container
	for _, c := range all {
		if opts.Project != nil && !opts.RemoveOrphans && c.Spec.Labels[compose.LabelOneoff] != "True" {
			svc := serviceOf(c)
			if _, ok := opts.Project.Services[svc]; !ok {
				if _, ok := opts.Project.DisabledServices[svc]; !ok {
					orphans = append(orphans, c)
					continue
				}
			}
		}
		cs = append(cs, c)
	}
	if len(orphans) > 0 {
		names := make([]string, len(orphans))
		for i, c := range orphans {
			names[i] = c.Name
		}
		s.events.warn("", fmt.Sprintf("Found orphan containers (%s) for this project. If you removed or renamed this service "+
			"in your compose file, you can run this command with the --remove-orphans flag to clean it up.", strings.Join(names, ", ")))
	}
	images := map[string]bool{}
	for _, c := range cs {
		images[c.Spec.Image] = true
	}
	// Stops follow the graph (dependents first); each removal starts as
	// soon as its container has stopped, off the critical path.
	rg, rctx := errgroup.WithContext(ctx)
	err = s.eachContainer(ctx, cs, opts.Project, graph.Down, func(ctx context.Context, c *engine.Container) error {
		if opts.DryRun {
			s.events.done(containerRes(c.Name), "Removed")
			return nil
		}
		if running(c) {
			if err := s.stopContainerOpts(ctx, c.Name, c.ID, engine.StopOptions{Timeout: opts.Timeout, NoWaitCleanup: true}); err != nil {
				return err
			}
		}
		rg.Go(func() error { return s.removeContainer(rctx, c, opts.Volumes, true) })
		return nil
	})
	if rerr := rg.Wait(); err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	if len(opts.Services) > 0 {
		return nil // only those services' containers
	}
	if len(orphans) > 0 && s.networks != nil {
		// Networks stay while orphans use them.
		return nil
	}
	eg, ectx := errgroup.WithContext(ctx)
	if s.networks != nil {
		nets, err := s.networks.List(ctx, projectLabels(project))
		if err != nil {
			return fmt.Errorf("list networks of project %q: %w", project, err)
		}
		for _, n := range nets {
			eg.Go(func() error {
				res := networkRes(n.Name)
				if opts.DryRun {
					s.events.done(res, "Removed")
					return nil
				}
				s.events.working(res, "Removing")
				if err := s.networks.Remove(ectx, n.Name); err != nil && !errdefs.IsNotFound(err) {
					err = fmt.Errorf("network %s: %w", n.Name, err)
					s.events.fail(res, err)
					return err
				}
				s.events.done(res, "Removed")
				return nil
			})
		}
	}
	if opts.Volumes && s.volumes != nil {
		vols, err := downVolumes(ctx, s.volumes, project, opts.Project)
		if err != nil {
			return fmt.Errorf("list volumes of project %q: %w", project, err)
		}
		for _, name := range vols {
			eg.Go(func() error {
				res := volumeRes(name)
				if opts.DryRun {
					s.events.done(res, "Removed")
					return nil
				}
				s.events.working(res, "Removing")
				if err := s.volumes.Remove(ectx, name, false); err != nil && !errdefs.IsNotFound(err) {
					err = fmt.Errorf("volume %s: %w", name, err)
					s.events.fail(res, err)
					return err
				}
				s.events.done(res, "Removed")
				return nil
			})
		}
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	return s.removeImages(ctx, project, opts, images)
}

// removeImages is down --rmi: "all" removes every image the project's
// containers used, "local" only those without a custom tag (services with
// no image:, named <project>-<service>).
func (s *Service) removeImages(ctx context.Context, project string, opts DownOptions, used map[string]bool) error {
	switch opts.Images {
	case "":
		return nil
	case "all", "local":
	default:
		return fmt.Errorf("invalid --rmi value %q (local or all): %w", opts.Images, errdefs.ErrInvalidArgument)
	}
	if s.images == nil {
		return s.need("image store", false)
	}
	if opts.Project != nil {
		for _, svc := range opts.Project.Services {
			used[compose.ImageName(project, svc)] = true
		}
	}
	refs := make([]string, 0, len(used))
	for ref := range used {
		if opts.Images == "local" && !strings.HasPrefix(ref, project+compose.Separator) {
			continue
		}
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		res := imageRes(ref)
		if opts.DryRun {
			s.events.done(res, "Removed")
			continue
		}
		s.events.working(res, "Removing")
		if _, err := s.images.Remove(ctx, ref, image.RemoveOptions{}); err != nil {
			if errdefs.IsNotFound(err) {
				s.events.done(res, "Removed")
				continue
			}
			s.events.fail(res, err)
			return fmt.Errorf("image %s: %w", ref, err)
		}
		s.events.done(res, "Removed")
	}
	return nil
}
