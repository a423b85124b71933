package main

import (
	"context"

	"github.com/spf13/cobra"
)

func (c *cli) newUnpauseCommand() *cobra.Command {
	return c.serviceCommand("unpause [SERVICE...]", "Unpause services", "Unpausing",
		func(ctx context.Context, b *backend, project string, services []string) error {
			return b.Unpause(ctx, project, services)
		})
}
