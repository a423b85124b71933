package main

import "github.com/spf13/cobra"

func (c *cli) newUnpauseCommand() *cobra.Command {
	return notBuilt("unpause [SERVICE...]", "Unpause services")
}
