package main

import "github.com/spf13/cobra"

func (c *cli) newUpCommand() *cobra.Command {
	return notBuilt("up [OPTIONS] [SERVICE...]", "Create and start containers")
}
