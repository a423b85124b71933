package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newStopCommand() *cobra.Command {
	var timeout int
	var cmd *cobra.Command
	cmd = c.serviceCommand("stop [OPTIONS] [SERVICE...]", "Stop services", "Stopping",
		func(ctx context.Context, b *backend, project string, services []string) error {
			return b.Stop(ctx, project, scheduler.StopOptions{Services: services,
				Timeout: timeoutFlag(cmd.Flags().Changed("timeout"), timeout), DryRun: c.opts.DryRun})
		})
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	return cmd
}
