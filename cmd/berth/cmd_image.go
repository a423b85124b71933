package main

import "github.com/spf13/cobra"

func (c *cli) newImageCommand() *cobra.Command {
	return notBuilt("image", "Manage images")
}
