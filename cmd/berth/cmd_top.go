package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (c *cli) newTopCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "top [SERVICES...]",
		Short: "Display the running processes",
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
			list, err := b.Top(cmd.Context(), name, args)
			if err != nil {
				return err
			}
			for i, t := range list {
				if i > 0 {
					fmt.Fprintln(c.stdout)
				}
				fmt.Fprintln(c.stdout, t.Name)
				tw := tabwriter.NewWriter(c.stdout, 5, 1, 3, ' ', 0)
				fmt.Fprintln(tw, strings.Join(t.Titles, "\t"))
				for _, p := range t.Procs {
					fmt.Fprintln(tw, strings.Join(p, "\t"))
				}
				_ = tw.Flush()
			}
			return nil
		},
		ValidArgsFunction: c.completeServices,
	}
}
