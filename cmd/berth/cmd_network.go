package main

import "github.com/spf13/cobra"

func (c *cli) newNetworkCommand() *cobra.Command {
	return notBuilt("network", "Manage networks")
}
