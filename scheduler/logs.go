package scheduler

import (
	"context"
	"fmt"
	"strconv"

	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// Logs writes the output of the project's containers (the named
// services', or all) to consumer, interleaved as it comes. With Follow it
// returns when every followed container has stopped or ctx is done.
func (s *Service) Logs(ctx context.Context, project string, consumer LogConsumer, opts LogOptions) error {
	cs, err := s.projectContainers(ctx, project, filter{services: opts.Services})
	if err != nil {
		return err
	}
	if opts.Index > 0 {
		var keep []*engine.Container
		for _, c := range cs {
			if c.Spec.Labels[compose.LabelNumber] == strconv.Itoa(opts.Index) {
				keep = append(keep, c)
			}
		}
		cs = keep
	}
	if len(cs) == 0 && len(opts.Services) > 0 {
		return fmt.Errorf("no container found for service(s) %v: %w", opts.Services, errdefs.ErrNotFound)
	}
	for _, c := range cs {
		consumer.Register(c.Name, serviceOf(c))
	}
	eg, ctx := errgroup.WithContext(ctx)
	for _, c := range cs {
		eg.Go(func() error {
			err := s.engine.Logs(ctx, c.ID, engine.LogsOptions{Follow: opts.Follow, Tail: opts.Tail, Since: opts.Since, Until: opts.Until},
				func(e engine.LogEntry) error {
					consumer.Log(c.Name, serviceOf(c), e.Stream, e.Time, e.Line)
					return nil
				})
			if err != nil && ctx.Err() == nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("logs of %s: %w", c.Name, err)
			}
			return nil
		})
	}
	return eg.Wait()
}
