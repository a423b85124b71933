package main

import "github.com/spf13/cobra"

func (c *cli) newContainerCommand() *cobra.Command {
	return notBuilt("container", "Manage containers")
}
