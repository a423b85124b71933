package main

import "github.com/spf13/cobra"

func (c *cli) newVersionCommand() *cobra.Command {
	return notBuilt("version [OPTIONS]", "Show the berth version information")
}
