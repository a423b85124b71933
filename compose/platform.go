package compose

import (
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// ApplyPlatforms sets the platform of the services that build, as docker
// compose does before building or hashing: DOCKER_DEFAULT_PLATFORM (from the
// project's environment) when the service sets none, build.platforms checked
// against it, and, when singlePlatform, build.platforms reduced to the one
// platform the service runs (or cleared when there are several). p is
// modified in place.
func ApplyPlatforms(p *types.Project, singlePlatform bool) error {
	def := p.Environment["DOCKER_DEFAULT_PLATFORM"]
	for name, svc := range p.Services {
		if svc.Build == nil {
			continue
		}
		if def != "" && svc.Platform == "" {
			if len(svc.Build.Platforms) > 0 && !slices.Contains(svc.Build.Platforms, def) {
				return invalidf("service %q build.platforms does not support value set by DOCKER_DEFAULT_PLATFORM: %s", name, def)
			}
			svc.Platform = def
		}
		if svc.Platform != "" {
			if len(svc.Build.Platforms) > 0 && !slices.Contains(svc.Build.Platforms, svc.Platform) {
				return invalidf("service %q build configuration does not support platform: %s", name, svc.Platform)
			}
			if singlePlatform || len(svc.Build.Platforms) == 0 {
				svc.Build.Platforms = []string{svc.Platform}
			}
		}
		if singlePlatform && len(svc.Build.Platforms) > 1 {
			svc.Build.Platforms = nil
		}
		p.Services[name] = svc
	}
	return nil
}
