package main

import (
	"context"
	"slices"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/engine"
)

// containersUsingVolume returns the names of the containers (any state)
// that mount the volume name. It is volumes.Options.InUse.
func (c *cli) containersUsingVolume(ctx context.Context, name string) ([]string, error) {
	e, err := c.engine(ctx)
	if err != nil {
		return nil, err
	}
	ctrs, err := e.List(ctx, engine.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ctr := range ctrs {
		if slices.ContainsFunc(ctr.Spec.Mounts, func(m engine.Mount) bool { return m.Volume == name }) {
			out = append(out, ctr.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// volumesOfServices returns the names of the volumes mounted by the
// containers of the project's services.
func (c *cli) volumesOfServices(ctx context.Context, project string, services []string) (map[string]bool, error) {
	e, err := c.engine(ctx)
	if err != nil {
		return nil, err
	}
	ctrs, err := e.List(ctx, engine.ListOptions{All: true, Labels: map[string]string{compose.LabelProject: project}})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, ctr := range ctrs {
		if !slices.Contains(services, ctr.Spec.Labels[compose.LabelService]) {
			continue
		}
		for _, m := range ctr.Spec.Mounts {
			if m.Volume != "" {
				out[m.Volume] = true
			}
		}
	}
	return out, nil
}
