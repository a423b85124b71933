package main

import "github.com/spf13/cobra"

func (c *cli) newPortCommand() *cobra.Command {
	return notBuilt("port [OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding")
}
