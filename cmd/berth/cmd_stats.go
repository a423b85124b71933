package main

import "github.com/spf13/cobra"

func (c *cli) newStatsCommand() *cobra.Command {
	return notBuilt("stats [OPTIONS] [SERVICE]", "Display a live stream of container(s) resource usage statistics")
}
