//go:build !berth_wip

package main

import "github.com/spf13/cobra"

// The compose lifecycle commands stand as not-built stubs until the
// engine, image and network parts they drive have landed; the real ones
// are built with the berth_wip tag meanwhile.

func (c *cli) newUpCommand() *cobra.Command {
	return notBuilt("up [OPTIONS] [SERVICE...]", "Create and start containers")
}

func (c *cli) newDownCommand() *cobra.Command {
	return notBuilt("down [OPTIONS] [SERVICES]", "Stop and remove containers, networks")
}

func (c *cli) newPsCommand() *cobra.Command {
	return notBuilt("ps [OPTIONS] [SERVICE...]", "List containers")
}

func (c *cli) newLogsCommand() *cobra.Command {
	return notBuilt("logs [OPTIONS] [SERVICE...]", "View output from containers")
}

func (c *cli) newExecCommand() *cobra.Command {
	return notBuilt("exec [OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container")
}

func (c *cli) newRunCommand() *cobra.Command {
	return notBuilt("run [OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service")
}

func (c *cli) newStartCommand() *cobra.Command {
	return notBuilt("start [SERVICE...]", "Start services")
}

func (c *cli) newStopCommand() *cobra.Command {
	return notBuilt("stop [OPTIONS] [SERVICE...]", "Stop services")
}

func (c *cli) newRestartCommand() *cobra.Command {
	return notBuilt("restart [OPTIONS] [SERVICE...]", "Restart service containers")
}

func (c *cli) newKillCommand() *cobra.Command {
	return notBuilt("kill [OPTIONS] [SERVICE...]", "Force stop service containers")
}

func (c *cli) newPauseCommand() *cobra.Command {
	return notBuilt("pause [SERVICE...]", "Pause services")
}

func (c *cli) newUnpauseCommand() *cobra.Command {
	return notBuilt("unpause [SERVICE...]", "Unpause services")
}

func (c *cli) newRmCommand() *cobra.Command {
	return notBuilt("rm [OPTIONS] [SERVICE...]", "Removes stopped service containers")
}

func (c *cli) newCreateCommand() *cobra.Command {
	return notBuilt("create [OPTIONS] [SERVICE...]", "Creates containers for a service")
}

func (c *cli) newLsCommand() *cobra.Command {
	return notBuilt("ls [OPTIONS]", "List running compose projects")
}

func (c *cli) newTopCommand() *cobra.Command {
	return notBuilt("top [SERVICES...]", "Display the running processes")
}

func (c *cli) newPortCommand() *cobra.Command {
	return notBuilt("port [OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding")
}

func (c *cli) newWaitCommand() *cobra.Command {
	return notBuilt("wait SERVICE [SERVICE...] [OPTIONS]", "Block until containers of all (or specified) services stop.")
}

func (c *cli) newEventsCommand() *cobra.Command {
	return notBuilt("events [OPTIONS] [SERVICE...]", "Receive real time events from containers")
}

func (c *cli) newBuildCommand() *cobra.Command {
	return notBuilt("build [OPTIONS] [SERVICE...]", "Build or rebuild services")
}

func (c *cli) newCpCommand() *cobra.Command {
	return notBuilt("cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-", "Copy files/folders between a service container and the local filesystem")
}

func (c *cli) newStatsCommand() *cobra.Command {
	return notBuilt("stats [OPTIONS] [SERVICE]", "Display a live stream of container(s) resource usage statistics")
}
