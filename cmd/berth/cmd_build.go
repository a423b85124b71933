package main

import "github.com/spf13/cobra"

func (c *cli) newBuildCommand() *cobra.Command {
	return notBuilt("build [OPTIONS] [SERVICE...]", "Build or rebuild services")
}
