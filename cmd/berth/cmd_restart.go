package main

import (
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newRestartCommand() *cobra.Command {
	var timeout int
	var noDeps bool
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] [SERVICE...]",
		Short: "Restart service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, err := c.projectOrName(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Restarting")
			if err != nil {
				return err
			}
			defer b.Close()
			return b.Restart(cmd.Context(), name, scheduler.StopOptions{Services: args,
				Timeout: timeoutFlag(cmd.Flags().Changed("timeout"), timeout), DryRun: c.opts.DryRun})
		},
		ValidArgsFunction: c.completeServices,
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "Don't restart dependent services")
	return cmd
}
