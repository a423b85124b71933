package main

import "github.com/spf13/cobra"

func (c *cli) newExecCommand() *cobra.Command {
	return notBuilt("exec [OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container")
}
