package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newRestartCommand() *cobra.Command {
	var timeout int
	var noDeps bool
	var cmd *cobra.Command
	cmd = c.serviceCommand("restart [OPTIONS] [SERVICE...]", "Restart service containers", "Restarting",
		func(ctx context.Context, b *backend, project string, services []string) error {
			return b.Restart(ctx, project, scheduler.StopOptions{Services: services, NoDeps: noDeps,
				Timeout: timeoutFlag(cmd.Flags().Changed("timeout"), timeout), DryRun: c.opts.DryRun})
		})
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "Don't restart dependent services")
	return cmd
}
