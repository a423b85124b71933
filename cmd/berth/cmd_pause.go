package main

import "github.com/spf13/cobra"

func (c *cli) newPauseCommand() *cobra.Command {
	return notBuilt("pause [SERVICE...]", "Pause services")
}
