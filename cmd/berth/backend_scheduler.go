package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/network"
	"github.com/berthdev/berth/scheduler"
	"github.com/berthdev/berth/volumes"
)

// backend is a scheduler service with its progress display. Close ends
// the display; call it once the command's work is done.
type backend struct {
	*scheduler.Service
	display display.Display
}

func (b *backend) Close() { b.display.Close() }

// backend builds the scheduler over the engine, image store, network and
// volume managers of --root, with a progress display titled title
// ("Running", "Stopping", …) on standard error.
func (c *cli) backend(ctx context.Context, title string) (*backend, error) {
	paths, err := c.paths()
	if err != nil {
		return nil, err
	}
	eng, err := c.engine(ctx)
	if err != nil {
		return nil, err
	}
	imgs, err := c.images()
	if err != nil {
		return nil, err
	}
	nets, err := c.networks()
	if err != nil {
		return nil, err
	}
	vols, err := c.volumes()
	if err != nil {
		return nil, err
	}
	disp, err := display.New(c.stderr, display.Options{Mode: c.opts.Progress, Ansi: c.opts.Ansi, Title: title, DryRun: c.opts.DryRun})
	if err != nil {
		return nil, err
	}
	svc, err := scheduler.New(scheduler.Options{Engine: eng, Images: imgs, Networks: nets, Volumes: vols,
		Paths: paths, Events: disp, Parallel: c.opts.Parallel})
	if err != nil {
		disp.Close()
		return nil, err
	}
	return &backend{Service: svc, display: disp}, nil
}

// projectOrName loads the project when a compose file is found; with
// -p and no compose file, commands that work from the containers' labels
// (down, ps, logs, stop, …) get the name alone and a nil project.
func (c *cli) projectOrName(ctx context.Context, services []string) (*types.Project, string, error) {
	p, err := c.loadProject(ctx, services)
	if err == nil {
		return p, p.Name, nil
	}
	if c.opts.ProjectName != "" && len(c.opts.Files) == 0 && errdefs.IsNotFound(err) {
		return nil, c.opts.ProjectName, nil
	}
	return nil, "", err
}

// projectName is projectOrName's name.
func (c *cli) projectName(ctx context.Context) (string, error) {
	_, name, err := c.projectOrName(ctx, nil)
	return name, err
}

// exitStatus turns a scheduler.ExitCodeError into the CLI's exitError (the
// process exits with that code).
func exitStatus(err error) error {
	var ec *scheduler.ExitCodeError
	if errors.As(err, &ec) {
		return &exitError{code: ec.Code, err: ec.Err}
	}
	return err
}

// timeoutFlag turns -t/--timeout seconds into a duration (nil when the
// flag was not given).
func timeoutFlag(changed bool, seconds int) *time.Duration {
	if !changed {
		return nil
	}
	d := time.Duration(seconds) * time.Second
	return &d
}

// checkServices fails on a service name the project does not have.
func checkServices(p *types.Project, names []string) error {
	if p == nil {
		return nil
	}
	for _, n := range names {
		if _, ok := p.Services[n]; ok {
			continue
		}
		if _, ok := p.DisabledServices[n]; ok {
			continue
		}
		return fmt.Errorf("no such service: %s: %w", n, errdefs.ErrNotFound)
	}
	return nil
}

// The concrete parts satisfy the scheduler's interfaces.
var (
	_ scheduler.Engine   = (*engine.Engine)(nil)
	_ scheduler.Images   = (*image.Store)(nil)
	_ scheduler.Networks = (*network.Manager)(nil)
	_ scheduler.Volumes  = (*volumes.Manager)(nil)
)
