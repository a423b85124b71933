package main

import "github.com/spf13/cobra"

func (c *cli) newCpCommand() *cobra.Command {
	return notBuilt("cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-", "Copy files/folders between a service container and the local filesystem")
}
