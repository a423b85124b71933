package main

import "github.com/spf13/cobra"

func (c *cli) newPauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pause [SERVICE...]",
		Short: "Pause services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, name, err := c.projectOrName(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(cmd.Context(), "Pausing")
			if err != nil {
				return err
			}
			defer b.Close()
			return b.Pause(cmd.Context(), name, args)
		},
		ValidArgsFunction: c.completeServices,
	}
}
