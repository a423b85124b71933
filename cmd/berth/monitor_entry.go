package main

import (
	// Runs `__monitor` from a package initializer, before the heavy
	// packages of the CLI initialise; runMonitor below is only the fallback.
	"github.com/berthdev/berth/internal/monitorentry"
)

// runMonitor is the per-container monitor entry point
// (`berth __monitor ID ROOT RUN`, started by the engine).
func runMonitor() {
	monitorentry.Run() // never returns
}
