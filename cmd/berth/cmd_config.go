package main

import "github.com/spf13/cobra"

func (c *cli) newConfigCommand() *cobra.Command {
	return notBuilt("config [OPTIONS] [SERVICE...]", "Parse, resolve and render compose file in canonical format")
}
