package main

import "github.com/spf13/cobra"

func (c *cli) newPushCommand() *cobra.Command {
	return notBuilt("push [OPTIONS] [SERVICE...]", "Push service images")
}
