package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (c *cli) newTopCommand() *cobra.Command {
	return c.serviceCommand("top [SERVICES...]", "Display the running processes", "Running",
		func(ctx context.Context, b *backend, project string, services []string) error {
			list, err := b.Top(ctx, project, services)
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
		})
}
