package main

import "github.com/spf13/cobra"

func (c *cli) newLogsCommand() *cobra.Command {
	return notBuilt("logs [OPTIONS] [SERVICE...]", "View output from containers")
}
