package main

import "github.com/spf13/cobra"

func (c *cli) newImagesCommand() *cobra.Command {
	return notBuilt("images [OPTIONS] [SERVICE...]", "List images used by the created containers")
}
