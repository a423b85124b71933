package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/cmd/berth/display"
	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
	"github.com/berthdev/berth/engine/state"
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

func (b *backend) Close() {
	b.display.Close()
	b.Service.Close()
}

// backend builds the scheduler over the engine, image store, network and
// volume managers of --root, with a progress display titled title
// ("Running", "Stopping", …) on standard error.
func (c *cli) backend(ctx context.Context, title string) (*backend, error) {
	return c.backendWith(ctx, title, false)
}

// projectBackend is the project's name (without loading its files) and
// a backend, for the commands that work on a project's existing
// containers.
func (c *cli) projectBackend(ctx context.Context, title string) (string, *backend, error) {
	name, err := c.projectName(ctx)
	if err != nil {
		return "", nil, err
	}
	b, err := c.backend(ctx, title)
	return name, b, err
}

// backendWith is backend; alwaysSweep makes up/down sweep the root every
// time (down does: it is the command that must leave nothing behind).
func (c *cli) backendWith(ctx context.Context, title string, alwaysSweep bool) (*backend, error) {
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
		Paths: paths, Events: disp, Parallel: c.opts.Parallel, AlwaysSweep: alwaysSweep})
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
	p, err := c.loadProjectFast(ctx, services)
	if err == nil {
		return p, p.Name, nil
	}
	if c.opts.ProjectName != "" && len(c.opts.Files) == 0 && errdefs.IsNotFound(err) {
		return nil, c.opts.ProjectName, nil
	}
	return nil, "", err
}

// loadProjectFast is loadProject that skips the JSON-schema validation
// (the costliest step of a load) when the very same files, env files and
// environment were validated before under this root: a marker named after
// their hash is kept in the volatile directory. It is what makes an `up`
// with nothing to do take a few milliseconds of work.
func (c *cli) loadProjectFast(ctx context.Context, services []string) (*types.Project, error) {
	opts := c.loadOptions(services)
	marker := ""
	if key := c.validationKey(opts); key != "" {
		if paths, err := c.paths(); err == nil {
			marker = filepath.Join(paths.Run, "validated", key)
			if _, err := os.Stat(marker); err == nil {
				opts.SkipValidation = true
			}
		}
	}
	p, err := compose.Load(ctx, opts)
	if err == nil && marker != "" && !opts.SkipValidation {
		_ = state.WriteFile(marker, nil, 0o600, false)
	}
	return p, err
}

// validationKey hashes what a load's validation depends on: the options,
// the compose and env files (names and contents) and the environment. ""
// when the files cannot be read (stdin, missing files).
func (c *cli) validationKey(opts compose.LoadOptions) string {
	files, envFiles, err := compose.Files(opts)
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %q %q\n", opts.ProjectName, opts.ProjectDirectory, opts.Profiles, opts.Services, opts.WorkingDir)
	for _, f := range append(files, envFiles...) {
		if f == "-" {
			return ""
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s %d\n", f, len(data))
		h.Write(data)
	}
	env := opts.Environment
	if env == nil {
		env = map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, env[k])
	}
	return hex.EncodeToString(h.Sum(nil))
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
