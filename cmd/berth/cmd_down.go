package main

import "github.com/spf13/cobra"

func (c *cli) newDownCommand() *cobra.Command {
	return notBuilt("down [OPTIONS] [SERVICES]", "Stop and remove containers, networks")
}
