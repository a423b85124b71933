package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/scheduler"
)

// pullOptions are compose pull's flags.
type pullOptions struct {
	quiet           bool
	ignoreFailures  bool
	includeDeps     bool
	ignoreBuildable bool
	policy          string
}

// newPullCommand is compose's `pull [SERVICE...]`: every selected
// service's image, in parallel, with docker compose's skip rules.
func (c *cli) newPullCommand() *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:               "pull [OPTIONS] [SERVICE...]",
		Short:             "Pull service images",
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runPull(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Pull without printing progress information")
	f.BoolVar(&o.ignoreFailures, "ignore-pull-failures", false, "Pull what it can and ignores images with pull failures")
	f.BoolVar(&o.includeDeps, "include-deps", false, "Also pull services declared as dependencies")
	f.BoolVar(&o.ignoreBuildable, "ignore-buildable", false, "Ignore images that can be built")
	f.StringVar(&o.policy, "policy", "", `Apply pull policy ("missing"|"always")`)
	return cmd
}

func (c *cli) runPull(ctx context.Context, o pullOptions, services []string) error {
	switch o.policy {
	case "", image.PolicyMissing, image.PolicyAlways:
	default:
		return invalidArgument("invalid --policy %q: use missing or always", o.policy)
	}
	project, err := c.loadProject(ctx, services)
	if err != nil {
		return err
	}
	store, err := c.images()
	if err != nil {
		return err
	}
	sink, err := c.newPullSink(c.stderr, "Pulling", o.quiet)
	if err != nil {
		return err
	}
	errs := c.pullProject(ctx, store, sink, project, services, o)
	sink.Close()
	return errs
}

// pullProject pulls the images of project's services (only those named,
// unless includeDeps) and returns the failures docker compose reports.
func (c *cli) pullProject(ctx context.Context, store *image.Store, sink scheduler.Events, project *types.Project,
	named []string, o pullOptions) error {
	names := make([]string, 0, len(project.Services))
	for name := range project.Services {
		if len(named) == 0 || o.includeDeps || slices.Contains(named, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	done := func(name, text string) {
		sink.Emit(scheduler.Event{Resource: name, State: scheduler.Done, Status: "Skipped", Text: skipText(text), Time: time.Now()})
	}
	g, gctx := errgroup.WithContext(ctx)
	if c.opts.Parallel > 0 {
		g.SetLimit(c.opts.Parallel)
	}
	var (
		mu        sync.Mutex
		failures  []error
		mustBuild []string
	)
	pulling := map[string]string{}
	for _, name := range names {
		svc := project.Services[name]
		if svc.Image == "" {
			done(name, "No image to be pulled")
			continue
		}
		policy := svc.PullPolicy
		if o.policy != "" {
			policy = o.policy
		}
		switch policy {
		case types.PullPolicyNever, types.PullPolicyBuild:
			done(name, "")
			continue
		case types.PullPolicyMissing, types.PullPolicyIfNotPresent:
			if imagePresent(ctx, store, svc.Image) {
				done(name, "Image is already present locally")
				continue
			}
		}
		if svc.Build != nil && o.ignoreBuildable {
			done(name, "Image can be built")
			continue
		}
		if other, ok := pulling[svc.Image]; ok {
			done(name, "Image is already being pulled by "+other)
			continue
		}
		pulling[svc.Image] = name
		g.Go(func() error {
			sink.Emit(scheduler.Event{Resource: name, State: scheduler.Working, Status: "Pulling", Time: time.Now()})
			_, err := store.Pull(gctx, svc.Image, image.PullOptions{Platform: svc.Platform, Progress: layerEvents(sink, name)})
			if err == nil {
				sink.Emit(scheduler.Event{Resource: name, State: scheduler.Done, Status: "Pulled", Time: time.Now()})
				return nil
			}
			state := scheduler.Error
			if svc.Build != nil {
				state = scheduler.Warning
			}
			sink.Emit(scheduler.Event{Resource: name, State: state, Status: "Error", Text: err.Error(), Time: time.Now()})
			mu.Lock()
			failures = append(failures, err)
			if svc.Build != nil {
				mustBuild = append(mustBuild, name)
			}
			mu.Unlock()
			if !o.ignoreFailures && svc.Build == nil {
				return err // fail fast: it can be neither pulled nor built
			}
			return nil
		})
	}
	err := g.Wait()
	if len(mustBuild) > 0 {
		slices.Sort(mustBuild)
		sink.Emit(scheduler.Event{State: scheduler.Warning, Status: "Warning",
			Text: "some service image(s) must be built from source by running: berth build " + strings.Join(mustBuild, " "), Time: time.Now()})
	}
	if err != nil {
		return err
	}
	if o.ignoreFailures {
		return nil
	}
	return errors.Join(failures...)
}

// imagePresent is docker compose's check for the missing policy: a tagged
// image other than :latest that is in the store.
func imagePresent(ctx context.Context, store *image.Store, ref string) bool {
	n, err := image.NormalizeRef(ref)
	if err != nil || strings.HasSuffix(n, ":latest") {
		return false
	}
	_, err = store.Get(ctx, n)
	return err == nil
}

// skipText is the detail after "Skipped", as docker compose prints it
// ("Skipped - Image is already present locally").
func skipText(reason string) string {
	if reason == "" {
		return ""
	}
	return "- " + reason
}
