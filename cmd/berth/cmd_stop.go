package main

import "github.com/spf13/cobra"

func (c *cli) newStopCommand() *cobra.Command {
	return notBuilt("stop [OPTIONS] [SERVICE...]", "Stop services")
}
