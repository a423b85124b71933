package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/volumes"
)

// newVolumeCommand is `berth volume`, docker's `docker volume` group.
func (c *cli) newVolumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
	}
	cmd.AddCommand(
		c.newVolumeCreateCommand(),
		c.newVolumeInspectCommand(),
		c.newVolumeLsCommand(),
		c.newVolumePruneCommand(),
		c.newVolumeRmCommand(),
	)
	for _, sub := range cmd.Commands() {
		freeShorthandF(sub)
	}
	return cmd
}

// freeShorthandF lets a docker-style subcommand own -f (--filter,
// --force, --format) although the compose global flag -f/--file is
// persistent on the root: a hidden local --file shadows the inherited one
// (cobra skips an inherited flag whose name is already defined), so the
// shorthands do not clash. docker's `volume` commands take no compose file.
func freeShorthandF(cmd *cobra.Command) {
	var ignored []string
	cmd.Flags().StringArrayVar(&ignored, "file", nil, "")
	_ = cmd.Flags().MarkHidden("file")
}

// completeVolumeNames completes volume names.
func (c *cli) completeVolumeNames(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	m, err := c.volumes()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	vols, err := m.List(cmd.Context(), nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

type volumeCreateOptions struct {
	driver string
	labels []string
	opts   []string
	name   string
}

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

func (c *cli) runVolumeCreate(ctx context.Context, o volumeCreateOptions) error {
	spec := volumes.Spec{Name: o.name, Driver: o.driver, Labels: map[string]string{}, DriverOpts: map[string]string{}}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		spec.Labels[k] = v
	}
	for _, kv := range o.opts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return invalidArgument("invalid option %q: options are key=value (type, o, device)", kv)
		}
		spec.DriverOpts[k] = v
	}
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

func (c *cli) newVolumeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short:             "Display detailed information on one or more volumes",
		Args:              requiresMinArgs(1),
		ValidArgsFunction: c.completeVolumeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runVolumeInspect(cmd.Context(), format, args)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", formatHelpInspect)
	return cmd
}

func (c *cli) runVolumeInspect(ctx context.Context, format string, names []string) error {
	m, err := c.volumes()
	if err != nil {
		return err
	}
	var found []inspectVolume
	var errs []error
	for _, n := range names {
		v, err := m.Get(ctx, n)
		if err != nil {
			if errdefs.IsNotFound(err) {
				err = &kindError{msg: "No such volume: " + n, kind: errdefs.ErrNotFound}
			}
			errs = append(errs, err)
			continue
		}
		found = append(found, toInspect(v))
	}
	if err := printInspect(c.stdout, format, found); err != nil {
		return err
	}
	return errors.Join(errs...)
}

type volumeLsOptions struct {
	filters []string
	format  string
	quiet   bool
}

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

// volumeFilter is a parsed --filter list: values of one key are OR'd,
// keys are AND'd, as docker's.
type volumeFilter map[string][]string

func parseVolumeFilters(args []string, allowed ...string) (volumeFilter, error) {
	f := volumeFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, invalidArgument("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasSuffix(k, "!") { // label!=x
			k = strings.TrimSuffix(k, "!") + "!"
		}
		if !slices.Contains(allowed, k) {
			return nil, invalidArgument("invalid filter '%s'", strings.TrimSuffix(k, "!"))
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// labelMatch is docker's label filter: "key" (present) or "key=value".
func labelMatch(labels map[string]string, want string) bool {
	k, v, hasValue := strings.Cut(want, "=")
	have, ok := labels[k]
	return ok && (!hasValue || have == v)
}

// match reports whether v passes the filter; used is whether a container
// uses it (asked only when a dangling filter is set).
func (f volumeFilter) match(v *volumes.Volume, used func() (bool, error)) (bool, error) {
	anyOf := func(key string, fn func(string) bool) bool {
		vals, ok := f[key]
		if !ok {
			return true
		}
		for _, val := range vals {
			if fn(val) {
				return true
			}
		}
		return false
	}
	if !anyOf("name", func(s string) bool {
		re, err := regexp.Compile(s)
		if err != nil {
			return strings.Contains(v.Name, s)
		}
		return re.MatchString(v.Name)
	}) || !anyOf("driver", func(s string) bool { return s == v.Driver }) ||
		!anyOf("label", func(s string) bool { return labelMatch(v.Labels, s) }) {
		return false, nil
	}
	for _, s := range f["label!"] {
		if labelMatch(v.Labels, s) {
			return false, nil
		}
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

func (c *cli) runVolumeLs(ctx context.Context, o volumeLsOptions) error {
	f, err := parseVolumeFilters(o.filters, "dangling", "driver", "label", "label!", "name")
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
	var vols []*volumes.Volume
	for _, v := range all {
		ok, err := f.match(v, func() (bool, error) {
			users, err := m.InUse(ctx, v.Name)
			return len(users) > 0, err
		})
		if err != nil {
			return err
		}
		if ok {
			vols = append(vols, v)
		}
	}
	sortVolumes(vols)
	return writeVolumes(c.stdout, o.format, o.quiet, vols)
}

func (c *cli) newVolumeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases:           []string{"remove"},
		Short:             "Remove one or more volumes",
		Long:              "Remove one or more volumes. You cannot remove a volume that is in use by a container unless forced.",
		Args:              requiresMinArgs(1),
		ValidArgsFunction: c.completeVolumeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runVolumeRm(cmd.Context(), force, args)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

// runVolumeRm removes each volume, printing its name; a missing volume is
// an error unless forced; the errors are reported together at the end.
func (c *cli) runVolumeRm(ctx context.Context, force bool, names []string) error {
	m, err := c.volumes()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if _, err := m.Get(ctx, n); err != nil {
			if errdefs.IsNotFound(err) {
				if !force {
					errs = append(errs, &kindError{msg: "No such volume: " + n, kind: errdefs.ErrNotFound})
				}
				continue
			}
			errs = append(errs, err)
			continue
		}
		if err := m.Remove(ctx, n, force); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(c.stdout, n)
	}
	return errors.Join(errs...)
}

type volumePruneOptions struct {
	all     bool
	force   bool
	filters []string
}

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

func (c *cli) runVolumePrune(ctx context.Context, o volumePruneOptions) error {
	f, err := parseVolumeFilters(o.filters, "label", "label!", "all")
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
		fmt.Fprintf(c.stdout, "%s\nAre you sure you want to continue? [y/N] ", warning)
		answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return nil
		}
	}
	m, err := c.volumes()
	if err != nil {
		return err
	}
	rep, err := m.Prune(ctx, volumes.PruneOptions{All: o.all, Filter: func(v *volumes.Volume) bool {
		ok, _ := f.match(v, nil)
		return ok
	}})
	if len(rep.Removed) > 0 {
		fmt.Fprintln(c.stdout, "Deleted Volumes:")
		for _, n := range rep.Removed {
			fmt.Fprintln(c.stdout, n)
		}
		fmt.Fprintln(c.stdout)
	}
	fmt.Fprintf(c.stdout, "Total reclaimed space: %s\n", humanSize(float64(rep.SpaceReclaimed)))
	return err
}
