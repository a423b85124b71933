package main

import "github.com/spf13/cobra"

func (c *cli) newVolumeCommand() *cobra.Command {
	return notBuilt("volume", "Manage volumes")
}
