package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/scheduler"
)

// pushOptions are compose push's flags.
type pushOptions struct {
	quiet          bool
	ignoreFailures bool
	includeDeps    bool
}

// newPushCommand is compose's `push [SERVICE...]`: the images of the
// services that have both build and image, as docker compose pushes them.
func (c *cli) newPushCommand() *cobra.Command {
	var o pushOptions
	cmd := &cobra.Command{
		Use:               "push [OPTIONS] [SERVICE...]",
		Short:             "Push service images",
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runPush(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ignoreFailures, "ignore-push-failures", false, "Push what it can and ignores images with push failures")
	f.BoolVar(&o.includeDeps, "include-deps", false, "Also push images of services declared as dependencies")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Push without printing progress information")
	return cmd
}

func (c *cli) runPush(ctx context.Context, o pushOptions, services []string) error {
	project, err := c.loadProject(ctx, services)
	if err != nil {
		return err
	}
	store, err := c.images()
	if err != nil {
		return err
	}
	sink, err := c.newPullSink(c.stderr, "Pushing", o.quiet)
	if err != nil {
		return err
	}
	defer sink.Close()
	var names []string
	for name := range project.Services {
		if len(services) == 0 || o.includeDeps || slices.Contains(services, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	g, gctx := errgroup.WithContext(ctx)
	if c.opts.Parallel > 0 {
		g.SetLimit(c.opts.Parallel)
	}
	var mu sync.Mutex
	var failures []error
	for _, name := range names {
		svc := project.Services[name]
		if svc.Build == nil || svc.Image == "" {
			sink.Emit(scheduler.Event{Resource: name, State: scheduler.Done, Status: "Skipped", Time: time.Now()})
			continue
		}
		g.Go(func() error {
			sink.Emit(scheduler.Event{Resource: name, State: scheduler.Working, Status: "Pushing", Time: time.Now()})
			err := store.Push(gctx, svc.Image, image.PushOptions{Progress: func(p image.Progress) {
				sink.Emit(scheduler.Event{Resource: name, State: scheduler.Working, Status: "Pushing", Current: p.Current, Total: p.Total, Time: time.Now()})
			}})
			if err == nil {
				sink.Emit(scheduler.Event{Resource: name, State: scheduler.Done, Status: "Pushed", Time: time.Now()})
				return nil
			}
			sink.Emit(scheduler.Event{Resource: name, State: scheduler.Error, Status: "Error", Text: err.Error(), Time: time.Now()})
			if !o.ignoreFailures {
				return err
			}
			mu.Lock()
			failures = append(failures, err)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, f := range failures {
		fmt.Fprintln(c.stderr, "WARNING:", f)
	}
	return nil
}

// newImagePushCommand is docker's `image push NAME[:TAG]`.
func (c *cli) newImagePushCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:               "push [OPTIONS] NAME[:TAG]",
		Short:             "Upload an image to a registry",
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := c.images()
			if err != nil {
				return err
			}
			ref, err := image.NormalizeRef(args[0])
			if err != nil {
				return err
			}
			repo, tag := image.SplitFamiliar(ref)
			if !quiet {
				fmt.Fprintf(c.stdout, "The push refers to repository [%s]\n", repo)
			}
			if err := store.Push(cmd.Context(), ref, image.PushOptions{}); err != nil {
				return err
			}
			img, err := store.Get(cmd.Context(), ref)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(c.stdout, image.FamiliarString(ref))
				return nil
			}
			fmt.Fprintf(c.stdout, "%s: digest: %s\n", tag, img.Manifest)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}
