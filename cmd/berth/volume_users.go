//go:build !berth_wip

package main

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// errNoEngine stands in until the engine lands: without it berth cannot
// tell which containers use a volume, so it refuses rather than guess.
var errNoEngine = fmt.Errorf("cannot list containers: the container engine is not built yet: %w", errdefs.ErrFailedPrecondition)

// containersUsingVolume is volumes.Options.InUse (see volume_users_wip.go).
func (c *cli) containersUsingVolume(ctx context.Context, name string) ([]string, error) {
	return nil, errNoEngine
}

// volumesOfServices: see volume_users_wip.go.
func (c *cli) volumesOfServices(ctx context.Context, project string, services []string) (map[string]bool, error) {
	return nil, errNoEngine
}
