package main

import "github.com/spf13/cobra"

func (c *cli) newRunCommand() *cobra.Command {
	return notBuilt("run [OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service")
}
