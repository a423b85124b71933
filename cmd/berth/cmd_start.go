package main

import (
	"context"

	"github.com/spf13/cobra"
)

func (c *cli) newStartCommand() *cobra.Command {
	return c.serviceCommand("start [SERVICE...]", "Start services", "Running",
		func(ctx context.Context, b *backend, project string, services []string) error {
			return b.Start(ctx, project, services)
		})
}
