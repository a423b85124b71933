package main

import "github.com/spf13/cobra"

func (c *cli) newPullCommand() *cobra.Command {
	return notBuilt("pull [OPTIONS] [SERVICE...]", "Pull service images")
}
