package main

import "github.com/spf13/cobra"

func (c *cli) newLsCommand() *cobra.Command {
	return notBuilt("ls [OPTIONS]", "List running compose projects")
}
