//go:build !berth_wip

package main

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// imagesInUse is image.Options.InUse (see image_users_wip.go). Without the
// engine this binary cannot create containers, so none uses an image.
func (c *cli) imagesInUse(ctx context.Context) (map[string]bool, error) {
	return map[string]bool{}, nil
}

// projectContainerImages: see image_users_wip.go.
func (c *cli) projectContainerImages(ctx context.Context, project string, services []string) ([]containerImage, error) {
	return nil, fmt.Errorf("cannot list containers: the container engine is not built yet: %w", errdefs.ErrFailedPrecondition)
}

// containerUsage: see image_users_wip.go.
func (c *cli) containerUsage(ctx context.Context) (dfRow, error) {
	return dfRow{Type: "Containers"}, nil
}
