package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newKillCommand() *cobra.Command {
	var signal string
	var removeOrphans bool
	cmd := c.serviceCommand("kill [OPTIONS] [SERVICE...]", "Force stop service containers", "Killing",
		func(ctx context.Context, b *backend, project string, services []string) error {
			return b.Kill(ctx, project, scheduler.KillOptions{Services: services, Signal: signal,
				RemoveOrphans: removeOrphans, DryRun: c.opts.DryRun})
		})
	cmd.Flags().StringVarP(&signal, "signal", "s", "SIGKILL", "SIGNAL to send to the container")
	cmd.Flags().BoolVar(&removeOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	return cmd
}
