package main

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/compose"
	"github.com/berthdev/berth/volumes"
)

type volumesOptions struct {
	quiet  bool
	format string
}

// newVolumesCommand is compose's `volumes`: the project's volumes, or
// those the given services' containers mount.
func (c *cli) newVolumesCommand() *cobra.Command {
	var o volumesOptions
	cmd := &cobra.Command{
		Use:               "volumes [OPTIONS] [SERVICE...]",
		Short:             "List volumes",
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runVolumes(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display volume names")
	f.StringVar(&o.format, "format", "table", formatHelpList)
	return cmd
}

func (c *cli) runVolumes(ctx context.Context, o volumesOptions, services []string) error {
	name := ""
	p, err := c.loadProject(ctx, nil)
	switch {
	case err == nil:
		name = p.Name
		for _, s := range services {
			if _, ok := p.Services[s]; !ok {
				if _, ok := p.DisabledServices[s]; !ok {
					return fmt.Errorf("no such service: %s: %w", s, errdefs.ErrNotFound)
				}
			}
		}
	case c.opts.ProjectName != "" && len(c.opts.Files) == 0 && errdefs.IsNotFound(err):
		name = c.opts.ProjectName // -p with no compose file: from the labels
	default:
		return err
	}
	m, err := c.volumes()
	if err != nil {
		return err
	}
	labelled, err := m.List(ctx, map[string]string{compose.LabelProject: name})
	if err != nil {
		return err
	}
	// docker's anonymous volumes carry no compose label, so docker compose
	// never lists them; berth labels them (for down -v) and hides them here.
	var vols []*volumes.Volume
	for _, v := range labelled {
		if !v.Anonymous() {
			vols = append(vols, v)
		}
	}
	if len(services) > 0 {
		used, err := c.volumesOfServices(ctx, name, services)
		if err != nil {
			return err
		}
		var keep []*volumes.Volume
		for _, v := range vols {
			if used[v.Name] {
				keep = append(keep, v)
			}
		}
		vols = keep
	}
	sortVolumes(vols)
	return writeVolumes(c.stdout, o.format, o.quiet, vols)
}
