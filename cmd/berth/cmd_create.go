package main

import "github.com/spf13/cobra"

func (c *cli) newCreateCommand() *cobra.Command {
	return notBuilt("create [OPTIONS] [SERVICE...]", "Creates containers for a service")
}
