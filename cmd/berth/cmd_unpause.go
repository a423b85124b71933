package main

import "github.com/spf13/cobra"

func (c *cli) newUnpauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unpause [SERVICE...]",
		Short: "Unpause services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, err := c.projectOrName(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Unpausing")
			if err != nil {
				return err
			}
			defer b.Close()
			return b.Unpause(cmd.Context(), name, args)
		},
		ValidArgsFunction: c.completeServices,
	}
}
