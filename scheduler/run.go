package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// Exec runs a command in a running container of a service and returns
// its exit code (an ExitCodeError when not 0).
func (s *Service) Exec(ctx context.Context, project string, opts ExecOptions) error {
	c, err := s.serviceContainer(ctx, project, opts.Service, opts.Index)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrFailedPrecondition)
	}
	code, err := s.engine.Exec(ctx, c.ID, engine.ExecOptions{
		Cmd: opts.Command, Env: opts.Env, User: opts.User, WorkingDir: opts.WorkingDir,
		Tty: opts.Tty, Interactive: opts.Interactive, Privileged: opts.Privileged, Detach: opts.Detach,
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Resize: opts.Resize,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitCodeError{Code: code}
	}
	return nil
}

// Run runs a one-off container of a service (<project>-<service>-run-<id>):
// its dependencies are brought up first (unless NoDeps), then the
// container runs the command; Run returns the command's exit code as an
// ExitCodeError when not 0.
func (s *Service) Run(ctx context.Context, p *types.Project, opts RunOptions) error {
	svc, ok := p.Services[opts.Service]
	if !ok {
		return fmt.Errorf("no such service: %s: %w", opts.Service, errdefs.ErrNotFound)
	}
	// Dependencies: converge the project without the service itself.
	deps := p.WithServicesDisabled(opts.Service)
	var err error
	if opts.NoDeps {
		// Networks and volumes only. (WithSelectedServices of no service
		// means all of them: the service's own container was started.)
		deps = p.WithServicesDisabled(p.ServiceNames()...)
	}
	x, err := s.converge(ctx, deps, CreateOptions{Pull: opts.Pull, QuietPull: opts.QuietPull, IgnoreOrphans: true}, false, nil)
	if err != nil {
		return err
	}
	one, err := p.WithSelectedServices([]string{opts.Service}, types.IgnoreDependencies)
	if err != nil {
		return err
	}
	images, err := s.ensureImages(ctx, one, CreateOptions{Pull: opts.Pull, QuietPull: opts.QuietPull})
	if err != nil {
		return err
	}
	if x != nil && !opts.NoDeps {
		if err := s.waitDependencies(ctx, p, svc, x.containers); err != nil {
			return err
		}
	}

	if svc, err = runService(svc, opts); err != nil {
		return err
	}
	slug := randomID()
	name := opts.Name
	if name == "" {
		name = compose.OneoffName(p.Name, svc.Name, slug)
	}
	hash, err := compose.ServiceHash(svc)
	if err != nil {
		return err
	}
	in := specInput{Project: p, Service: svc, Name: name, Hash: hash, OneOff: true, Slug: slug}
	img := images.byService[svc.Name]
	if img != nil {
		in.ImageID = img.ID
	}
	if x != nil {
		in.Lookup = x.lookup
	} else {
		in.Lookup = func(string) (string, error) {
			return "", fmt.Errorf("dependencies not started: %w", errdefs.ErrNotFound)
		}
	}
	spec, err := buildSpec(in)
	if err != nil {
		return err
	}
	if spec, err = s.completeSpec(ctx, p, svc, spec, img, in.Lookup, nil, false); err != nil {
		return err
	}
	if !opts.UseAliases {
		for i := range spec.Network.Interfaces {
			spec.Network.Interfaces[i].Aliases = nil
		}
	}
	spec.AutoRemove = opts.AutoRemove && opts.Detach
	if opts.Tty && !opts.Detach && opts.Resize != nil {
		// The terminal's size now, so the process starts with it.
		select {
		case ws := <-opts.Resize:
			spec.ConsoleSize = &ws
		default:
		}
	}
	c, err := s.engine.Create(ctx, spec)
	if err != nil {
		return fmt.Errorf("service %q: create one-off container: %w", svc.Name, err)
	}
	if opts.OnCreated != nil {
		opts.OnCreated(c.Name)
	}
	if opts.Detach {
		return s.engine.Start(ctx, c.ID)
	}
	return s.runAttached(ctx, c, opts)
}

// runAttached starts c, copies its output until it exits, and returns its
// exit code.
func (s *Service) runAttached(ctx context.Context, c *engine.Container, opts RunOptions) (err error) {
	defer func() {
		if opts.AutoRemove {
			_ = s.engine.Remove(context.WithoutCancel(ctx), c.ID, engine.RemoveOptions{Force: true})
		}
	}()
	if err := s.engine.Start(ctx, c.ID); err != nil {
		return err
	}
	if opts.Tty || opts.Interactive {
		// A terminal or stdin needs the monitor's attach stream.
		ao := engine.AttachOptions{Stdout: opts.Stdout, Stderr: opts.Stderr, Resize: opts.Resize}
		if opts.Interactive {
			ao.Stdin = opts.Stdin
		}
		if err := s.engine.Attach(ctx, c.ID, ao); err != nil && ctx.Err() == nil {
			s.log.Warn("attach", "container", c.Name, "err", err)
		}
		code, err := s.engine.Wait(ctx, c.ID)
		if err != nil {
			return err
		}
		if code != 0 {
			return &ExitCodeError{Code: code}
		}
		return nil
	}
	logsDone := make(chan error, 1)
	go func() {
		logsDone <- s.engine.Logs(ctx, c.ID, engine.LogsOptions{Follow: true, Tail: -1}, func(e engine.LogEntry) error {
			w := opts.Stdout
			if e.Stream == "stderr" && opts.Stderr != nil {
				w = opts.Stderr
			}
			if w == nil {
				w = io.Discard
			}
			_, err := w.Write(append(e.Line, '\n'))
			return err
		})
	}()
	code, err := s.engine.Wait(ctx, c.ID)
	if err != nil {
		return err
	}
	<-logsDone
	if code != 0 {
		return &ExitCodeError{Code: code}
	}
	return nil
}

// runService applies run's overrides to the service.
func runService(svc types.ServiceConfig, opts RunOptions) (types.ServiceConfig, error) {
	if opts.Command != nil {
		svc.Command = slices.Clone(opts.Command)
	}
	if opts.EntrypointSet {
		svc.Entrypoint = slices.Clone(opts.Entrypoint)
	}
	if opts.WorkingDir != "" {
		svc.WorkingDir = opts.WorkingDir
	}
	if opts.User != "" {
		svc.User = opts.User
	}
	svc.Tty = opts.Tty
	svc.StdinOpen = opts.Interactive
	svc.Restart = ""
	svc.Deploy = nil
	svc.ContainerName = ""
	if len(opts.Env) > 0 {
		env := types.MappingWithEquals{}
		maps.Copy(env, svc.Environment)
		maps.Copy(env, types.NewMappingWithEquals(opts.Env))
		svc.Environment = env
	}
	if len(opts.Labels) > 0 {
		l := types.Labels{}
		maps.Copy(l, svc.Labels)
		maps.Copy(l, opts.Labels)
		svc.Labels = l
	}
	svc.CapAdd = append(slices.Clone(svc.CapAdd), opts.CapAdd...)
	svc.CapDrop = append(slices.Clone(svc.CapDrop), opts.CapDrop...)
	if opts.Privileged {
		svc.Privileged = true
	}
	if !opts.ServicePorts {
		svc.Ports = nil
	}
	for _, spec := range opts.Publish {
		ports, err := types.ParsePortConfig(spec)
		if err != nil {
			return svc, fmt.Errorf("invalid port %q: %v: %w", spec, err, errdefs.ErrInvalidArgument)
		}
		svc.Ports = append(svc.Ports, ports...)
	}
	for _, v := range opts.Volumes {
		vol, err := format.ParseVolume(v)
		if err != nil {
			return svc, fmt.Errorf("invalid volume %q: %v: %w", v, err, errdefs.ErrInvalidArgument)
		}
		if vol.Type == types.VolumeTypeBind && !filepath.IsAbs(vol.Source) {
			if vol.Source, err = filepath.Abs(vol.Source); err != nil {
				return svc, err
			}
		}
		svc.Volumes = append(svc.Volumes, vol)
	}
	return svc, nil
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
