package main

import (
	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newStopCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] [SERVICE...]",
		Short: "Stop services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, err := c.projectOrName(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Stopping")
			if err != nil {
				return err
			}
			defer b.Close()
			return b.Stop(cmd.Context(), name, scheduler.StopOptions{Services: args,
				Timeout: timeoutFlag(cmd.Flags().Changed("timeout"), timeout), DryRun: c.opts.DryRun})
		},
		ValidArgsFunction: c.completeServices,
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	return cmd
}
