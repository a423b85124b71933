package main

import "github.com/spf13/cobra"

func (c *cli) newTopCommand() *cobra.Command {
	return notBuilt("top [SERVICES...]", "Display the running processes")
}
