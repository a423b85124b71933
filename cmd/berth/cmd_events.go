package main

import "github.com/spf13/cobra"

func (c *cli) newEventsCommand() *cobra.Command {
	return notBuilt("events [OPTIONS] [SERVICE...]", "Receive real time events from containers")
}
