package main

import (
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newCreateCommand() *cobra.Command {
	var build, noBuild, forceRecreate, noRecreate, removeOrphans, quietPull, yes bool
	var pull string
	var scale []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [SERVICE...]",
		Short: "Creates containers for a service",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if forceRecreate && noRecreate {
				return invalidArgument("--force-recreate and --no-recreate are incompatible")
			}
			if pull == "policy" {
				pull = ""
			}
			p, err := c.loadProjectFast(ctx, args)
			if err != nil {
				return err
			}
			if err := applyScale(p, scale); err != nil {
				return err
			}
			b, err := c.backend(ctx, "Running")
			if err != nil {
				return err
			}
			defer b.Close()
			recreate := scheduler.RecreateDiverged
			if forceRecreate {
				recreate = scheduler.RecreateForce
			} else if noRecreate {
				recreate = scheduler.RecreateNever
			}
			return b.Create(ctx, p, scheduler.CreateOptions{Services: args, Recreate: recreate,
				RecreateDependencies: recreate, RemoveOrphans: removeOrphans, Pull: pull, QuietPull: quietPull,
				Build: build, NoBuild: noBuild, DryRun: c.opts.DryRun, AssumeYes: yes, Confirm: c.confirmer(b.display)})
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVar(&build, "build", false, "Build images before starting containers")
	f.BoolVar(&noBuild, "no-build", false, "Don't build an image, even if it's policy")
	f.BoolVar(&forceRecreate, "force-recreate", false, "Recreate containers even if their configuration and image haven't changed")
	f.BoolVar(&noRecreate, "no-recreate", false, "If containers already exist, don't recreate them. Incompatible with --force-recreate.")
	f.BoolVar(&removeOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.BoolVar(&quietPull, "quiet-pull", false, "Pull without printing progress information")
	f.StringVar(&pull, "pull", "policy", `Pull image before running ("always"|"missing"|"never"|"build")`)
	f.StringArrayVar(&scale, "scale", nil, "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.")
	f.BoolVarP(&yes, "yes", "y", false, `Assume "yes" as answer to all prompts and run non-interactively`)
	return cmd
}
