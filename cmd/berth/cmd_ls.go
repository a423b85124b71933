package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (c *cli) newLsCommand() *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "ls [OPTIONS]",
		Short: "List running compose projects",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := c.backend(cmd.Context(), "Running")
			if err != nil {
				return err
			}
			defer b.Close()
			list, err := b.Ls(cmd.Context(), all)
			if err != nil {
				return err
			}
			switch {
			case quiet:
				for _, p := range list {
					fmt.Fprintln(c.stdout, p.Name)
				}
			case format == "json":
				if list == nil {
					fmt.Fprintln(c.stdout, "[]")
					return nil
				}
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "    ")
				return enc.Encode(list)
			case format == "table" || format == "":
				tw := tabwriter.NewWriter(c.stdout, 10, 1, 3, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILES")
				for _, p := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Status, p.ConfigFiles)
				}
				return tw.Flush()
			default:
				return invalidArgument("format value %q could not be parsed: use table or json", format)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all stopped Compose projects")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display project names")
	f.StringVar(&format, "format", "table", "Format the output. Values: [table | json]")
	return cmd
}
