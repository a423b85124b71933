package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/scheduler"
)

func (c *cli) newWaitCommand() *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{
		Use:   "wait SERVICE [SERVICE...] [OPTIONS]",
		Short: "Block until containers of all (or specified) services stop.",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, name, err := c.projectOrName(ctx, nil)
			if err != nil {
				return err
			}
			if err := checkServices(p, args); err != nil {
				return err
			}
			b, err := c.backend(ctx, "Running")
			if err != nil {
				return err
			}
			defer b.Close()
			code, err := b.Wait(ctx, name, args)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, code)
			if downProject {
				if err := b.Down(ctx, name, scheduler.DownOptions{Project: p}); err != nil {
					return err
				}
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
		ValidArgsFunction: c.completeServices,
	}
	cmd.Flags().BoolVar(&downProject, "down-project", false, "Drops project when the first container stops")
	return cmd
}
