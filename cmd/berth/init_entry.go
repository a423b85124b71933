package main

import "github.com/berthdev/berth/engine/runtime"

// runInit is the container init entry point (`berth __init`): the monitor
// re-executes berth as it in the container's new namespaces.
func runInit() {
	runtime.Init() // never returns
}
