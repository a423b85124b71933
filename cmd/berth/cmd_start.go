package main

import "github.com/spf13/cobra"

func (c *cli) newStartCommand() *cobra.Command {
	return notBuilt("start [SERVICE...]", "Start services")
}
