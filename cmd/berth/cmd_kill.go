package main

import "github.com/spf13/cobra"

func (c *cli) newKillCommand() *cobra.Command {
	return notBuilt("kill [OPTIONS] [SERVICE...]", "Force stop service containers")
}
