package main

import (
	"context"

	"github.com/spf13/cobra"
)

// serviceCommand is the shape that stop, restart, kill, pause and unpause
// share: the project (or -p's name alone, from the containers' labels),
// the named services checked against it, and run on a backend whose
// progress is titled title.
func (c *cli) serviceCommand(use, short, title string, run func(ctx context.Context, b *backend, project string, services []string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, err := c.projectOrName(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), title)
			if err != nil {
				return err
			}
			defer b.Close()
			return run(cmd.Context(), b, name, args)
		},
		ValidArgsFunction: c.completeServices,
	}
}
