package main

import (
	"context"
	"slices"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// imagesInUse is image.Options.InUse: the IDs of the images of every
// container of --root, running or not.
func (c *cli) imagesInUse(ctx context.Context) (map[string]bool, error) {
	eng, err := c.engine(ctx)
	if err != nil {
		return nil, err
	}
	ctrs, err := eng.List(ctx, engine.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, ct := range ctrs {
		used[ct.ImageID] = true
	}
	return used, nil
}

// projectContainerImages lists the containers of a project (of services
// when given) with their image reference and ID.
func (c *cli) projectContainerImages(ctx context.Context, project string, services []string) ([]containerImage, error) {
	eng, err := c.engine(ctx)
	if err != nil {
		return nil, err
	}
	ctrs, err := eng.List(ctx, engine.ListOptions{All: true, Labels: map[string]string{compose.LabelProject: project}})
	if err != nil {
		return nil, err
	}
	var out []containerImage
	for _, ct := range ctrs {
		if len(services) > 0 && !slices.Contains(services, ct.Spec.Labels[compose.LabelService]) {
			continue
		}
		out = append(out, containerImage{Container: ct.Name, Ref: ct.Spec.Image, ImageID: ct.ImageID})
	}
	return out, nil
}

// containerUsage is the Containers row of `system df`: writable layers'
// sizes, reclaimable for containers not running.
func (c *cli) containerUsage(ctx context.Context) (dfRow, error) {
	row := dfRow{Type: "Containers"}
	eng, err := c.engine(ctx)
	if err != nil {
		return row, err
	}
	paths, err := c.paths()
	if err != nil {
		return row, err
	}
	ctrs, err := eng.List(ctx, engine.ListOptions{All: true})
	if err != nil {
		return row, err
	}
	for _, ct := range ctrs {
		row.Total++
		size := dirSize(paths.Container(ct.ID) + "/upper")
		if s := dirSize(paths.Container(ct.ID) + "/rootfs"); s > 0 {
			size = s
		}
		row.Size += size
		if ct.State.Running {
			row.Active++
		} else {
			row.Reclaimable += size
		}
	}
	return row, nil
}
