package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/volumes"
)

// newVolumeCommand is `berth volume`, docker's `docker volume` group.
func (c *cli) newVolumeCommand() *cobra.Command {
	return resourceGroup("volume COMMAND", "Manage volumes",
		c.newVolumeCreateCommand(),
		c.newVolumeInspectCommand(),
		c.newVolumeLsCommand(),
		c.newVolumePruneCommand(),
		c.newVolumeRmCommand(),
	)
}

// completeVolumeNames completes volume names.
func (c *cli) completeVolumeNames() cobra.CompletionFunc {
	list := func(ctx context.Context) ([]*volumes.Volume, error) {
		m, err := c.volumes()
		if err != nil {
			return nil, err
		}
		return m.List(ctx, nil)
	}
	return completeNames(list, func(v *volumes.Volume) string { return v.Name })
}

// findVolume is the volume name, with docker's message when there is
// none.
func findVolume(ctx context.Context, m *volumes.Manager, name string) (*volumes.Volume, error) {
	v, err := m.Get(ctx, name)
	if errdefs.IsNotFound(err) {
		return nil, &kindError{msg: "No such volume: " + name, kind: errdefs.ErrNotFound}
	}
	return v, err
}

// volumeCreateOptions are `volume create`'s flags.
type volumeCreateOptions struct {
	driver string
	labels []string
	opts   []string
	name   string
}

// newVolumeCreateCommand is `volume create`.
func (c *cli) newVolumeCreateCommand() *cobra.Command {
	var o volumeCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.name != "" {
					return invalidArgument("conflicting options: either specify --name or provide positional arg, not both")
				}
				o.name = args[0]
			}
			return c.runVolumeCreate(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "local", "Specify volume driver name")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata for a volume")
	f.StringArrayVarP(&o.opts, "opt", "o", nil, "Set driver specific options")
	f.StringVar(&o.name, "name", "", "Specify volume name")
	_ = f.MarkHidden("name")
	return cmd
}

// runVolumeCreate creates the volume (named at random when o has no
// name) and prints its name.
func (c *cli) runVolumeCreate(ctx context.Context, o volumeCreateOptions) error {
	opts, err := optionMap(o.opts, " (type, o, device)")
	if err != nil {
		return err
	}
	spec := volumes.Spec{Name: o.name, Driver: o.driver, Labels: labelMap(o.labels), DriverOpts: opts}
	if spec.Name == "" {
		// docker names it at random, without the anonymous label.
		spec.Name = volumes.RandomName()
	}
	m, err := c.volumes()
	if err != nil {
		return err
	}
	v, err := m.Create(ctx, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, v.Name)
	return nil
}

// inspectVolume is `volume inspect`'s JSON, docker's shape and key order.
type inspectVolume struct {
	CreatedAt  string            `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
}

// toInspect is v as `volume inspect` prints it.
func toInspect(v *volumes.Volume) inspectVolume {
	iv := inspectVolume{
		CreatedAt:  v.CreatedAt.Local().Format(time.RFC3339),
		Driver:     v.Driver,
		Mountpoint: v.Mountpoint,
		Name:       v.Name,
		Scope:      v.Scope,
	}
	if len(v.Labels) > 0 {
		iv.Labels = v.Labels
	}
	if len(v.Options) > 0 {
		iv.Options = v.Options
	}
	return iv
}

// newVolumeInspectCommand is `volume inspect`.
func (c *cli) newVolumeInspectCommand() *cobra.Command {
	return inspectCommand(&cobra.Command{
		Use:               "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short:             "Display detailed information on one or more volumes",
		ValidArgsFunction: c.completeVolumeNames(),
	}, c.runVolumeInspect)
}

// runVolumeInspect prints the volumes as docker's JSON array, or each
// through a template; missing volumes are reported after the others.
func (c *cli) runVolumeInspect(ctx context.Context, format string, names []string) error {
	m, err := c.volumes()
	if err != nil {
		return err
	}
	return inspectEach(ctx, c.stdout, format, names, func(ctx context.Context, name string) (inspectVolume, error) {
		v, err := findVolume(ctx, m, name)
		if err != nil {
			return inspectVolume{}, err
		}
		return toInspect(v), nil
	})
}

// volumeLsOptions are `volume ls`'s flags.
type volumeLsOptions struct {
	filters []string
	format  string
	quiet   bool
}

// newVolumeLsCommand is `volume ls`.
func (c *cli) newVolumeLsCommand() *cobra.Command {
	var o volumeLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runVolumeLs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Provide filter values (e.g. \"dangling=true\")")
	f.StringVar(&o.format, "format", "", formatHelpList)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display volume names")
	return cmd
}

// volumeMatch reports whether v passes the filter; used is whether a
// container uses it (asked only when a dangling filter is set).
func volumeMatch(f filterArgs, v *volumes.Volume, used func() (bool, error)) (bool, error) {
	if !f.matchName(v.Name) || !f.anyOf("driver", func(s string) bool { return s == v.Driver }) || !f.matchLabels(v.Labels) {
		return false, nil
	}
	if vals, ok := f["dangling"]; ok {
		u, err := used()
		if err != nil {
			return false, err
		}
		for _, s := range vals {
			want, err := strconv.ParseBool(s)
			if err != nil {
				return false, invalidArgument("invalid filter 'dangling=%s'", s)
			}
			if want == !u {
				return true, nil
			}
		}
		return false, nil
	}
	return true, nil
}

// runVolumeLs prints the volumes that pass the filters, in natural order
// of their names: docker's table, names (-q), JSON lines or a template.
func (c *cli) runVolumeLs(ctx context.Context, o volumeLsOptions) error {
	f, err := parseFilters(o.filters, "dangling", "driver", "label", "label!", "name")
	if err != nil {
		return err
	}
	m, err := c.volumes()
	if err != nil {
		return err
	}
	all, err := m.List(ctx, nil)
	if err != nil {
		return err
	}
	vols, err := matching(all, func(v *volumes.Volume) (bool, error) {
		return volumeMatch(f, v, func() (bool, error) {
			users, err := m.InUse(ctx, v.Name)
			return len(users) > 0, err
		})
	})
	if err != nil {
		return err
	}
	sortVolumes(vols)
	return writeVolumes(c.stdout, o.format, o.quiet, vols)
}

// newVolumeRmCommand is `volume rm`.
func (c *cli) newVolumeRmCommand() *cobra.Command {
	return removeCommand(&cobra.Command{
		Use:               "rm [OPTIONS] VOLUME [VOLUME...]",
		Short:             "Remove one or more volumes",
		Long:              "Remove one or more volumes. You cannot remove a volume that is in use by a container unless forced.",
		ValidArgsFunction: c.completeVolumeNames(),
	}, "Force the removal of one or more volumes", c.runVolumeRm)
}

// runVolumeRm removes each volume, printing its name; a missing volume is
// an error unless forced; the errors are reported together at the end.
func (c *cli) runVolumeRm(ctx context.Context, force bool, names []string) error {
	m, err := c.volumes()
	if err != nil {
		return err
	}
	find := func(ctx context.Context, name string) error {
		_, err := findVolume(ctx, m, name)
		return err
	}
	remove := func(ctx context.Context, name string) error { return m.Remove(ctx, name, force) }
	return removeEach(ctx, c.stdout, names, force, find, remove)
}

// volumePruneOptions are `volume prune`'s flags.
type volumePruneOptions struct {
	all     bool
	force   bool
	filters []string
}

// newVolumePruneCommand is `volume prune`.
func (c *cli) newVolumePruneCommand() *cobra.Command {
	var o volumePruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runVolumePrune(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	f.StringArrayVar(&o.filters, "filter", nil, "Provide filter values (e.g. \"label=<label>\")")
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// runVolumePrune removes the volumes no container uses (anonymous ones
// unless all) and prints what went and the space it freed.
func (c *cli) runVolumePrune(ctx context.Context, o volumePruneOptions) error {
	f, err := parseFilters(o.filters, "label", "label!", "all")
	if err != nil {
		return err
	}
	for _, s := range f["all"] {
		all, err := strconv.ParseBool(s)
		if err != nil {
			return invalidArgument("invalid filter 'all=%s'", s)
		}
		o.all = o.all || all
	}
	delete(f, "all")
	if !o.force {
		warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
		if o.all {
			warning = "WARNING! This will remove all local volumes not used by at least one container."
		}
		if !c.confirmPrune(warning) {
			return nil
		}
	}
	m, err := c.volumes()
	if err != nil {
		return err
	}
	rep, err := m.Prune(ctx, volumes.PruneOptions{All: o.all, Filter: func(v *volumes.Volume) bool {
		ok, _ := volumeMatch(f, v, nil)
		return ok
	}})
	printDeleted(c.stdout, "Deleted Volumes:", rep.Removed)
	fmt.Fprintf(c.stdout, "Total reclaimed space: %s\n", humanSize(float64(rep.SpaceReclaimed)))
	return err
}
