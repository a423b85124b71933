package main

import "github.com/spf13/cobra"

func (c *cli) newPsCommand() *cobra.Command {
	return notBuilt("ps [OPTIONS] [SERVICE...]", "List containers")
}
