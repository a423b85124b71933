package main

import (
	"github.com/spf13/cobra"
)

func (c *cli) newStartCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start [SERVICE...]",
		Short: "Start services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, err := c.projectOrName(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Running")
			if err != nil {
				return err
			}
			defer b.Close()
			return b.Start(cmd.Context(), name, args)
		},
		ValidArgsFunction: c.completeServices,
	}
	return cmd
}
