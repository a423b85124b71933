//go:build berth_wip

package scheduler

import (
	"context"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthdev/berth/engine"
	"github.com/berthdev/berth/engine/image"
)

// resolveMounts is resolveMountsFor with the image's VOLUME entries taken
// from img (nil: none). (Built with berth_wip until engine/image lands.)
func resolveMounts(ctx context.Context, vols volumeManager, p *types.Project, svc types.ServiceConfig,
	img *image.Image, opts mountOptions) ([]engine.Mount, error) {
	var imageVolumes []string
	if img != nil {
		imageVolumes = img.Config.Volumes
	}
	return resolveMountsFor(ctx, vols, p, svc, imageVolumes, opts)
}
