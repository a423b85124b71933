package scheduler

import (
	"context"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
)

// completeSpec adds what needs the network and volume packages to a spec
// made by buildSpec: the networks (serviceNetworkSpec) and the mounts
// (resolveMounts, which creates anonymous volumes and resolves binds).
func (s *Service) completeSpec(ctx context.Context, p *types.Project, svc types.ServiceConfig, spec engine.ContainerSpec,
	img *image.Image, lookup func(string) (string, error), previous []engine.Mount, renewAnon bool) (engine.ContainerSpec, error) {
	var err error
	if spec.Network, err = serviceNetworkSpec(p, svc, spec.Name, lookup); err != nil {
		return spec, fmt.Errorf("service %q: %w", svc.Name, err)
	}
	if s.volumes == nil {
		return spec, s.need("volume manager", false)
	}
	var imageVolumes []string
	if img != nil {
		imageVolumes = img.Config.Volumes
	}
	mo := mountOptions{Previous: previous, RenewAnonVolumes: renewAnon, Logger: s.log, VolumesFrom: func(ctx context.Context, ref string) ([]engine.Mount, error) {
		target := ref
		if name, ok := strings.CutPrefix(ref, "container:"); ok {
			target = name
		} else if id, err := lookup(ref); err == nil {
			target = id
		} else {
			return nil, err
		}
		c, err := s.engine.Inspect(ctx, target)
		if err != nil {
			return nil, err
		}
		return c.Spec.Mounts, nil
	}}
	if spec.Mounts, err = resolveMountsFor(ctx, s.volumes, p, svc, imageVolumes, mo); err != nil {
		return spec, fmt.Errorf("service %q: %w", svc.Name, err)
	}
	return spec, nil
}
