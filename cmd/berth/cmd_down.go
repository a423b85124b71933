package main

import (
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

type downOptions struct {
	removeOrphans, volumes bool
	rmi                    string
	timeout                int
}

func (c *cli) newDownCommand() *cobra.Command {
	var o downOptions
	cmd := &cobra.Command{
		Use:   "down [OPTIONS] [SERVICES]",
		Short: "Stop and remove containers, networks",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch o.rmi {
			case "", "local", "all":
			default:
				return invalidArgument("invalid value for --rmi: %q (local or all)", o.rmi)
			}
			// down works from the containers' labels: the compose file may
			// have changed or be gone (then -p names the project).
			b, err := c.backendWith(ctx, "Running", true)
			if err != nil {
				return err
			}
			defer b.Close()
			if !c.opts.DryRun {
				b.Prepare(ctx) // the sweep overlaps loading the project
			}
			p, name, err := c.projectOrName(ctx, nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			return b.Down(ctx, name, scheduler.DownOptions{
				Project: p, Services: args, RemoveOrphans: o.removeOrphans, Volumes: o.volumes, Images: o.rmi,
				Timeout: timeoutFlag(cmd.Flags().Changed("timeout"), o.timeout), DryRun: c.opts.DryRun,
			})
		},
		ValidArgsFunction: c.completeServices,
	}
	f := cmd.Flags()
	f.BoolVar(&o.removeOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.StringVar(&o.rmi, "rmi", "", `Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")`)
	f.BoolVarP(&o.volumes, "volumes", "v", false, "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers")
	f.IntVarP(&o.timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	return cmd
}
