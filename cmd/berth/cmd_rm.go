package main

import "github.com/spf13/cobra"

func (c *cli) newRmCommand() *cobra.Command {
	return notBuilt("rm [OPTIONS] [SERVICE...]", "Removes stopped service containers")
}
