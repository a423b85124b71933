package scheduler

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine"
)

// AttachOptions are attach's: a service's container and the streams to
// connect to it.
type AttachOptions struct {
	Service string
	Index   int // replica number, 1 when 0
	// Stdin goes to the container's stdin when it has one (stdin_open);
	// its end leaves that stdin open (docker's StdinOnce false). nil: not
	// attached (--no-stdin).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// OnAttach learns, before anything flows, whether the container has a
	// terminal; it returns the terminal's size changes to relay (the CLI
	// puts its own terminal in raw mode there), or nil.
	OnAttach func(tty bool) <-chan WinSize
	// Signals (names, e.g. "SIGINT") are sent to the container while
	// attached (--sig-proxy).
	Signals <-chan string
}

// Attach connects the streams to a running container of a service until
// its process ends or ctx is done (a detach). It returns the container's
// exit code as an ExitCodeError when its process ended with one other
// than 0, as docker compose attach does.
func (s *Service) Attach(ctx context.Context, project string, opts AttachOptions) error {
	c, err := s.serviceContainer(ctx, project, opts.Service, opts.Index)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return fmt.Errorf("cannot attach to container %s: it is not running; start it first (berth start %s): %w",
			c.Name, opts.Service, errdefs.ErrFailedPrecondition)
	}
	ao := engine.AttachOptions{Stdout: opts.Stdout, Stderr: opts.Stderr, KeepStdin: true}
	if c.Spec.OpenStdin && opts.Stdin != nil {
		ao.Stdin = opts.Stdin
	}
	if opts.OnAttach != nil {
		ao.Resize = opts.OnAttach(c.Spec.Tty)
	}
	if opts.Signals != nil {
		fwd, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			for {
				select {
				case <-fwd.Done():
					return
				case sig := <-opts.Signals:
					if err := s.engine.Kill(fwd, c.ID, sig); err != nil && fwd.Err() == nil {
						s.log.Warn("attach: forward signal", "container", c.Name, "signal", sig, "err", err)
					}
				}
			}
		}()
	}
	err = s.engine.Attach(ctx, c.ID, ao)
	if ctx.Err() != nil {
		return nil // detached
	} else if err != nil {
		return err
	}
	// The stream ends with the run's output: the exit is recorded just
	// after (or the next run has started, under a restart policy).
	after, err := s.engine.WaitUntil(ctx, c.ID, func(x *engine.Container) (bool, error) {
		return !x.State.Running || !x.State.StartedAt.Equal(c.State.StartedAt), nil
	})
	if err != nil {
		return err
	}
	if after.State.ExitCode != 0 {
		return &ExitCodeError{Code: after.State.ExitCode}
	}
	return nil
}
