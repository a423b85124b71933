package scheduler

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berthdev/berth/engine"
)

// TopResult is one container's processes.
type TopResult struct {
	Name   string
	Titles []string
	Procs  [][]string
}

// Top lists the processes of the project's running containers.
func (s *Service) Top(ctx context.Context, project string, services []string) ([]TopResult, error) {
	cs, err := s.projectContainers(ctx, project, filter{services: services, runningOnly: true})
	if err != nil {
		return nil, err
	}
	out := make([]TopResult, 0, len(cs))
	for _, c := range cs {
		titles, procs, err := s.engine.Top(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("top %s: %w", c.Name, err)
		}
		out = append(out, TopResult{Name: c.Name, Titles: titles, Procs: procs})
	}
	return out, nil
}

// Port returns the host address a container port of a service is
// published on ("127.0.0.1:8080").
func (s *Service) Port(ctx context.Context, project, service string, port int, protocol string, index int) (string, error) {
	c, err := s.serviceContainer(ctx, project, service, index)
	if err != nil {
		return "", err
	}
	if protocol == "" {
		protocol = "tcp"
	}
	for _, p := range c.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if int(p.ContainerPort) == port && proto == protocol {
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			return ip + ":" + strconv.Itoa(int(p.HostPort)), nil
		}
	}
	return "", fmt.Errorf("no port %d/%s published for %s: %w", port, protocol, c.Name, errdefs.ErrNotFound)
}

// Wait blocks until the containers of services stop and returns the exit
// code of the first one that does.
func (s *Service) Wait(ctx context.Context, project string, services []string) (int, error) {
	cs, err := s.projectContainers(ctx, project, filter{services: services})
	if err != nil {
		return 0, err
	}
	if len(cs) == 0 {
		return 0, fmt.Errorf("no containers for project %q: %w", project, errdefs.ErrNotFound)
	}
	type res struct {
		code int
		err  error
	}
	first := make(chan res, len(cs))
	eg, ctx := errgroup.WithContext(ctx)
	for _, c := range cs {
		eg.Go(func() error {
			code, err := s.engine.Wait(ctx, c.ID)
			first <- res{code, err}
			return err
		})
	}
	r := <-first
	_ = eg.Wait()
	return r.code, r.err
}

// Events streams the engine's events about the project's containers
// until ctx is done.
func (s *Service) Events(ctx context.Context, project string, services []string, fn func(engine.Event) error) error {
	ch, err := s.engine.Events(ctx, time.Now())
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-ch:
			if !ok {
				return nil
			}
			if e.Attributes["com.docker.compose.project"] != project {
				continue
			}
			if len(services) > 0 && !contains(services, e.Attributes["com.docker.compose.service"]) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}

// Stats samples the resource figures of the project's running containers.
func (s *Service) Stats(ctx context.Context, project string, services []string) ([]*engine.Stats, error) {
	cs, err := s.projectContainers(ctx, project, filter{services: services, runningOnly: true})
	if err != nil {
		return nil, err
	}
	out := make([]*engine.Stats, 0, len(cs))
	for _, c := range cs {
		st, err := s.engine.Stats(ctx, c.ID)
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("stats of %s: %w", c.Name, err)
		}
		if st.Name == "" {
			st.Name = c.Name
		}
		if st.ID == "" {
			st.ID = c.ID
		}
		out = append(out, st)
	}
	return out, nil
}
