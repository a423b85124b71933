package main

import "github.com/spf13/cobra"

func (c *cli) newSystemCommand() *cobra.Command {
	return notBuilt("system", "Manage berth")
}
