package scheduler

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine/image"
)

// imageSet is the images resolved for a project's services.
type imageSet struct {
	byRef     map[string]*image.Image
	byService map[string]*image.Image
}

// IDs returns each service's image ID (services whose image is unknown,
// as in a dry run that would pull, are left out).
func (is imageSet) IDs() map[string]string {
	m := make(map[string]string, len(is.byService))
	for svc, img := range is.byService {
		if img != nil {
			m[svc] = img.ID
		}
	}
	return m
}

// pullPolicy is the effective pull policy of s under an --pull override.
func pullPolicy(s types.ServiceConfig, override string) string {
	p := override
	if p == "" {
		p = s.PullPolicy
	}
	switch p {
	case PullAlways, PullNever, PullBuild:
		return p
	case "if_not_present", "", PullMissing:
		return PullMissing
	}
	// daily, weekly, every_<duration>: berth does not keep pull dates;
	// treat as missing.
	return PullMissing
}

// notBuiltError is the error for a service whose image must be built.
func notBuiltError(svc, ref string) error {
	return kindErrorf(errdefs.ErrNotImplemented, "service %q has a build section and its image %q is not present: berth does not build images yet; "+
		"build it elsewhere and bring it in with `berth image load` or `berth image import`, or set image: to a pullable one",
		svc, ref)
}

// ensureImages resolves every service's image before anything is created:
// present images are used, missing ones pulled in parallel (by pull
// policy), and a service with a build section whose image is absent fails
// naming the service. In a dry run nothing is pulled.
func (s *Service) ensureImages(ctx context.Context, p *types.Project, opts CreateOptions) (imageSet, error) {
	set := imageSet{byRef: map[string]*image.Image{}, byService: map[string]*image.Image{}}
	if err := s.need("image store", s.images != nil); err != nil {
		return set, err
	}
	type want struct {
		ref      string
		services []string
		policy   string
		build    bool
	}
	wants := map[string]*want{}
	for _, name := range sortedKeys(p.Services) {
		svc := p.Services[name]
		if svc.GetScale() == 0 && len(p.Services) > 1 {
			continue
		}
		ref := compose.ImageName(p.Name, svc)
		w := wants[ref]
		if w == nil {
			w = &want{ref: ref, policy: pullPolicy(svc, opts.Pull)}
			wants[ref] = w
		}
		w.services = append(w.services, name)
		if svc.Build != nil {
			w.build = true
			if svc.Image == "" || pullPolicy(svc, opts.Pull) == PullBuild {
				w.policy = PullBuild
			}
		}
		if pullPolicy(svc, opts.Pull) == PullAlways {
			w.policy = PullAlways
		}
	}
	refs := sortedKeys(wants)

	// Builds are checked first: nothing is pulled or created when a
	// service cannot have its image.
	var toPull []*want
	var mu sync.Mutex
	for _, ref := range refs {
		w := wants[ref]
		if opts.Build && w.build {
			return set, notBuiltError(w.services[0], ref)
		}
		if w.policy == PullAlways && !w.build {
			toPull = append(toPull, w)
			continue
		}
		img, err := s.images.Get(ctx, ref)
		switch {
		case err == nil:
			set.byRef[ref] = img
			continue
		case !errdefs.IsNotFound(err):
			return set, fmt.Errorf("image %q: %w", ref, err)
		case w.build || w.policy == PullBuild:
			return set, notBuiltError(w.services[0], ref)
		case w.policy == PullNever:
			return set, kindErrorf(errdefs.ErrNotFound, "service %q: image %q is not present and its pull policy is %q; pull it with `berth pull`",
				w.services[0], ref, PullNever)
		}
		toPull = append(toPull, w)
	}

	eg, ectx := errgroup.WithContext(ctx)
	if s.parallel > 0 {
		eg.SetLimit(s.parallel)
	}
	for _, w := range toPull {
		eg.Go(func() error {
			res := imageRes(w.ref)
			if opts.DryRun {
				s.events.done(res, "Pulled")
				return nil
			}
			if !opts.QuietPull {
				s.events.working(res, "Pulling")
			}
			img, err := s.images.Pull(ectx, w.ref, image.PullOptions{Progress: s.pullProgress(res, opts.QuietPull)})
			if err != nil {
				err = fmt.Errorf("service %q: pull %s: %w", w.services[0], w.ref, err)
				s.events.fail(res, err)
				return err
			}
			if !opts.QuietPull {
				s.events.done(res, "Pulled")
			}
			mu.Lock()
			set.byRef[w.ref] = img
			mu.Unlock()
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return set, err
	}
	for _, w := range wants {
		for _, svc := range w.services {
			set.byService[svc] = set.byRef[w.ref]
		}
	}
	return set, nil
}

// pullProgress turns the store's per-layer progress into child events of
// the image's line.
func (s *Service) pullProgress(parent string, quiet bool) func(image.Progress) {
	if quiet {
		return nil
	}
	return func(pr image.Progress) {
		st := Working
		if strings.HasPrefix(pr.Status, "Pull complete") || strings.HasPrefix(pr.Status, "Already exists") {
			st = Done
		}
		s.events.Emit(Event{Resource: pr.ID, Parent: parent, State: st, Status: pr.Status,
			Current: pr.Current, Total: pr.Total})
	}
}
