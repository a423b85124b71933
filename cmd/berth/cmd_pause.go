package main

import (
	"context"

	"github.com/spf13/cobra"
)

func (c *cli) newPauseCommand() *cobra.Command {
	return c.serviceCommand("pause [SERVICE...]", "Pause services", "Pausing",
		func(ctx context.Context, b *backend, project string, services []string) error {
			return b.Pause(ctx, project, services)
		})
}
