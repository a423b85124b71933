package main

import (
	"github.com/berthdev/berth/engine/runtime"
	// Runs `__init` from a package initializer, before the heavy packages
	// of the CLI initialise; runInit below is only the fallback.
	_ "github.com/berthdev/berth/engine/runtime/entry"
)

// runInit is the container init entry point (`berth __init`): the monitor
// re-executes berth as it in the container's new namespaces.
func runInit() {
	runtime.Init() // never returns
}
