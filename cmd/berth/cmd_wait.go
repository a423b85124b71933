package main

import "github.com/spf13/cobra"

func (c *cli) newWaitCommand() *cobra.Command {
	return notBuilt("wait SERVICE [SERVICE...] [OPTIONS]", "Block until containers of all (or specified) services stop.")
}
