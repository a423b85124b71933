package main

import "github.com/spf13/cobra"

func (c *cli) newRestartCommand() *cobra.Command {
	return notBuilt("restart [OPTIONS] [SERVICE...]", "Restart service containers")
}
