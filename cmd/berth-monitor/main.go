// Command berth-monitor is a container's monitor (the role podman's conmon
// plays), installed beside berth: the engine starts it for every container
// it runs, and it supervises the container after the CLI has exited. It is
// the same code as `berth __monitor`, in a binary that links only the
// monitor, the runtime, cgroups and the network manager, so that it starts
// fast and stays small (see engine/internal/sibling).
package main

import "github.com/berthdev/berth/internal/monitorentry"

func main() {
	monitorentry.Run() // never returns
}
