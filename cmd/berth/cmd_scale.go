package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

// newScaleCommand is docker compose's `scale`: the named services converge
// to their new replica counts (and, unless --no-deps, their dependencies
// are created and started as by `up`), detached, leaving the other
// services as they are.
func (c *cli) newScaleCommand() *cobra.Command {
	var noDeps bool
	cmd := &cobra.Command{
		Use:   "scale [SERVICE=REPLICAS...]",
		Short: "Scale services",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runScale(cmd, args, noDeps)
		},
		ValidArgsFunction: c.completeServices,
	}
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "Don't start linked services")
	return cmd
}

func (c *cli) runScale(cmd *cobra.Command, args []string, noDeps bool) error {
	ctx := cmd.Context()
	replicas, err := parseScaleArgs(args)
	if err != nil {
		return err
	}
	services := make([]string, 0, len(replicas))
	for name := range replicas {
		services = append(services, name)
	}
	slices.Sort(services)
	b, err := c.backend(ctx, "Running")
	if err != nil {
		return err
	}
	defer b.Close()
	p, err := c.loadProjectFast(ctx, services)
	if err != nil {
		return err
	}
	if noDeps {
		if p, err = p.WithSelectedServices(services, types.IgnoreDependencies); err != nil {
			return err
		}
	}
	for _, name := range services {
		if err := setReplicas(p, name, replicas[name]); err != nil {
			return err
		}
	}
	return exitStatus(b.Up(ctx, p, scheduler.UpOptions{
		Create: scheduler.CreateOptions{Services: services, Recreate: scheduler.RecreateDiverged,
			RecreateDependencies: scheduler.RecreateDiverged, DryRun: c.opts.DryRun, Confirm: c.confirmer(b.display)},
	}))
}

// parseScaleArgs reads SERVICE=REPLICAS arguments, with docker compose's
// messages.
func parseScaleArgs(args []string) (map[string]int, error) {
	out := map[string]int{}
	for _, arg := range args {
		name, num, ok := strings.Cut(arg, "=")
		if !ok || name == "" || num == "" {
			return nil, invalidArgument("invalid scale specifier: %s (use SERVICE=REPLICAS)", arg)
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return nil, invalidArgument("invalid scale specifier: can't parse replica value as int: %v", arg)
		}
		out[name] = n
	}
	return out, nil
}
